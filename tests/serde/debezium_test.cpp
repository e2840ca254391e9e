// Debezium change events (serde/debezium.hpp): PostgreSQL-connector-shaped
// messages for a snapshot read, an insert, an update, a delete, a truncate
// and a tombstone, with and without the schema/payload envelope, decode
// into the changelog rows they stand for; those rows drive a keyed window
// aggregate to the table's totals (the truncate handled explicitly); every
// malformed class is a decode_error naming the member and the reason;
// events and rows survive encode -> decode.
#include <doctest/doctest.h>

#include <cstdint>
#include <laminar/laminar.hpp>
#include <laminar/serde/debezium.hpp>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "serde/records.hpp"

using namespace laminar;

namespace debezium_test {

// A row of the table public.holdings.
struct holding {
  std::int64_t id = 0;
  std::uint32_t account = 0;
  std::string sym;
  std::int64_t qty = 0;
  double px = 0;
  std::optional<std::string> note;
  timestamp ts;  // updated_at, nanoseconds
  friend bool operator==(const holding&, const holding&) = default;
};
constexpr auto laminar_fields(const holding*) {
  using laminar::field_named;
  return laminar::describe(field_named("id", &holding::id), field_named("account", &holding::account),
                           field_named("sym", &holding::sym), field_named("qty", &holding::qty),
                           field_named("px", &holding::px), field_named("note", &holding::note),
                           field_named("updated_at", &holding::ts));
}

}  // namespace debezium_test

using debezium_test::holding;

namespace {

// The value schema the JSON converter writes with schemas.enable=true (the
// row's struct twice, the source struct, op, ts_ms, transaction).
const std::string row_schema =
    R"({"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},)"
    R"({"type":"int32","optional":false,"field":"account"},{"type":"string","optional":false,"field":"sym"},)"
    R"({"type":"int64","optional":false,"field":"qty"},{"type":"double","optional":false,"field":"px"},)"
    R"({"type":"string","optional":true,"field":"note"},)"
    R"({"type":"int64","optional":false,"name":"io.debezium.time.NanoTimestamp","version":1,"field":"updated_at"}],)"
    R"("optional":true,"name":"pg.public.holdings.Value",)";
const std::string envelope_schema =
    R"({"type":"struct","fields":[)" + row_schema + R"("field":"before"},)" + row_schema + R"("field":"after"},)"
    R"({"type":"struct","fields":[{"type":"string","optional":false,"field":"version"},)"
    R"({"type":"string","optional":false,"field":"connector"},{"type":"string","optional":false,"field":"name"},)"
    R"({"type":"int64","optional":false,"field":"ts_ms"},{"type":"string","optional":true,"name":"io.debezium.data.Enum",)"
    R"("version":1,"parameters":{"allowed":"true,last,false,incremental"},"default":"false","field":"snapshot"},)"
    R"({"type":"string","optional":false,"field":"db"},{"type":"string","optional":false,"field":"schema"},)"
    R"({"type":"string","optional":false,"field":"table"},{"type":"int64","optional":true,"field":"txId"},)"
    R"({"type":"int64","optional":true,"field":"lsn"}],"optional":false,)"
    R"("name":"io.debezium.connector.postgresql.Source","field":"source"},)"
    R"({"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},)"
    R"({"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},)"
    R"({"type":"int64","optional":false,"field":"total_order"},)"
    R"({"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"field":"transaction"}],)"
    R"("optional":false,"name":"pg.public.holdings.Envelope","version":1})";

std::string source(std::int64_t ts_ms, const char* snapshot, std::int64_t lsn) {
  return R"({"version":"2.5.0.Final","connector":"postgresql","name":"pg","ts_ms":)" + std::to_string(ts_ms) +
         R"(,"snapshot":")" + snapshot + R"(","db":"desk","sequence":"[null,\")" + std::to_string(lsn) +
         R"(\"]","schema":"public","table":"holdings","txId":)" + std::to_string(lsn / 1000) +
         R"(,"lsn":)" + std::to_string(lsn) + R"(,"xmin":null})";
}
std::string with_schema(const std::string& payload) {
  return R"({"schema":)" + envelope_schema + R"(,"payload":)" + payload + "}";
}

constexpr std::int64_t t0 = 1'700'000'000'000'000'000;  // ns

// The table's history: a snapshot of two rows, an insert, two updates, a
// delete, a tombstone, a truncate, and an insert after it.
const std::string snapshot_1 = with_schema(
    R"({"before":null,"after":{"id":1,"account":7,"sym":"ABC","qty":100,"px":10.5,"note":null,)"
    R"("updated_at":1700000000000000000},"source":)" + source(1700000000000, "true", 23785760) +
    R"(,"op":"r","ts_ms":1700000000512,"transaction":null})");
const std::string snapshot_2 = with_schema(
    R"({"before":null,"after":{"id":2,"account":9,"sym":"XYZ","qty":-40,"px":99.25,"note":"short",)"
    R"("updated_at":1700000001000000000},"source":)" + source(1700000000000, "last", 23785760) +
    R"(,"op":"r","ts_ms":1700000000515,"transaction":null})");
const std::string insert_3 =  // schemas.enable=false: the payload alone
    R"({"before":null,"after":{"id":3,"account":7,"sym":"DEF","qty":25,"px":3.75,"note":null,)"
    R"("updated_at":1700000002000000000},"source":)" + source(1700000002001, "false", 23786112) +
    R"(,"op":"c","ts_ms":1700000002093,"transaction":{"id":"743:23786112","total_order":1,"data_collection_order":1}})";
const std::string update_1 = with_schema(
    R"({"before":{"id":1,"account":7,"sym":"ABC","qty":100,"px":10.5,"note":null,"updated_at":1700000000000000000},)"
    R"("after":{"id":1,"account":7,"sym":"ABC","qty":160,"px":10.75,"note":"topped up","updated_at":1700000003000000000},)"
    R"("source":)" + source(1700000003004, "false", 23786400) + R"(,"op":"u","ts_ms":1700000003110,"transaction":null})");
const std::string update_2 =  // the payload alone, members in another order, spaces, a line end
    R"( { "op": "u", "ts_ms": 1700000004200, "after": {"updated_at": 1700000004000000000, "note": null, "px": 99.5,)"
    R"( "qty": -10, "sym": "XYZ", "account": 9, "id": 2}, "before": {"id": 2, "account": 9, "sym": "XYZ",)"
    R"( "qty": -40, "px": 99.25, "note": "short", "updated_at": 1700000001000000000}, "source": )" +
    source(1700000004100, "false", 23786520) + " }\r\n";
const std::string delete_3 = with_schema(
    R"({"before":{"id":3,"account":7,"sym":"DEF","qty":25,"px":3.75,"note":null,"updated_at":1700000002000000000},)"
    R"("after":null,"source":)" + source(1700000005000, "false", 23786700) +
    R"(,"op":"d","ts_ms":1700000005050,"transaction":null})");
const std::string tombstone_3 = "null";  // the Kafka value that follows a delete
const std::string truncate_all = with_schema(R"({"source":)" + source(1700000006000, "false", 23786900) +
                                             R"(,"op":"t","ts_ms":1700000006020,"transaction":null})");
const std::string insert_4 =
    R"({"before":null,"after":{"id":4,"account":9,"sym":"QRS","qty":5,"px":1.0,"note":null,)"
    R"("updated_at":1700000007000000000},"source":)" + source(1700000007000, "false", 23787000) +
    R"(,"op":"c","ts_ms":1700000007010,"transaction":null})";

holding row(std::int64_t id, std::uint32_t account, const char* sym, std::int64_t qty, double px,
            std::optional<std::string> note, std::int64_t ts) {
  return {id, account, sym, qty, px, std::move(note), timestamp::from_nanos(ts)};
}

}  // namespace

TEST_CASE("debezium: each op, with and without the envelope, gives its changelog rows") {
  const debezium_codec<holding> cdc;

  SUBCASE("snapshot read: +I after") {
    decoded<debezium_event<holding>> d = cdc.decode(snapshot_1);
    REQUIRE_MESSAGE(d.ok(), d.error().message());
    const debezium_event<holding>& e = d.value();
    CHECK(e.op() == debezium_op::read);
    CHECK_FALSE(e.truncate());
    CHECK(e.ts_ms == 1700000000512);
    CHECK(e.source_ts_ms == 1700000000000);
    REQUIRE(e.rows().size() == 1);
    CHECK(e.rows()[0].kind == change_kind::insert);
    CHECK(static_cast<const holding&>(e.rows()[0]) == row(1, 7, "ABC", 100, 10.5, std::nullopt, t0));
  }
  SUBCASE("insert, the payload alone: +I after") {
    decoded<debezium_event<holding>> d = cdc.decode(insert_3);
    REQUIRE_MESSAGE(d.ok(), d.error().message());
    CHECK(d.value().op() == debezium_op::create);
    REQUIRE(d.value().rows().size() == 1);
    CHECK(d.value().rows()[0] == change<holding>{row(3, 7, "DEF", 25, 3.75, std::nullopt, t0 + 2'000'000'000),
                                                 change_kind::insert});
  }
  SUBCASE("update: -U before, +U after") {
    for (const std::string& message : {update_1, update_2}) {
      decoded<debezium_event<holding>> d = cdc.decode(message);
      REQUIRE_MESSAGE(d.ok(), d.error().message());
      CHECK(d.value().op() == debezium_op::update);
      REQUIRE(d.value().rows().size() == 2);
      CHECK(d.value().rows()[0].kind == change_kind::update_before);
      CHECK(d.value().rows()[1].kind == change_kind::update_after);
    }
    const debezium_event<holding> e = cdc.decode(update_1).value();
    CHECK(static_cast<const holding&>(e.rows()[0]) == row(1, 7, "ABC", 100, 10.5, std::nullopt, t0));
    CHECK(static_cast<const holding&>(e.rows()[1]) == row(1, 7, "ABC", 160, 10.75, "topped up", t0 + 3'000'000'000));
    CHECK(cdc.decode(update_2).value().ts_ms == 1700000004200);
  }
  SUBCASE("delete: -D before; then the tombstone: nothing") {
    decoded<debezium_event<holding>> d = cdc.decode(delete_3);
    REQUIRE_MESSAGE(d.ok(), d.error().message());
    CHECK(d.value().op() == debezium_op::remove);
    REQUIRE(d.value().rows().size() == 1);
    CHECK(d.value().rows()[0].kind == change_kind::remove);
    CHECK(d.value().rows()[0].id == 3);
    for (const std::string tomb : {"null", "null\n", R"({"schema":null,"payload":null})"}) {
      decoded<debezium_event<holding>> t = cdc.decode(tomb);
      REQUIRE_MESSAGE(t.ok(), t.error().message());
      CHECK(t.value().op() == debezium_op::tombstone);
      CHECK(t.value().rows().empty());
      CHECK_FALSE(t.value().truncate());
    }
  }
  SUBCASE("truncate: no row, and for_each_row says so") {
    decoded<debezium_event<holding>> d = cdc.decode(truncate_all);
    REQUIRE_MESSAGE(d.ok(), d.error().message());
    CHECK(d.value().op() == debezium_op::truncate);
    CHECK(d.value().truncate());
    CHECK(d.value().rows().empty());
    CHECK(d.value().ts_ms == 1700000006020);
    int rows = 0, truncates = 0;
    d.value().for_each_row([&](const change<holding>&) { ++rows; }, [&] { ++truncates; });
    CHECK(rows == 0);
    CHECK(truncates == 1);
    // Set to refuse truncates, the codec returns an error instead.
    const debezium_codec<holding> strict(debezium_format{.truncate = debezium_truncate::error});
    const decoded<debezium_event<holding>> refused = strict.decode(truncate_all);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().field == "op");
    CHECK(refused.error().reason == "a truncate (op t), which this codec is set to refuse (debezium_truncate::error)");
    CHECK(strict.decode(insert_3).ok());
  }
}

TEST_CASE("debezium: the rows drive a keyed window aggregate to the table's totals") {
  const debezium_codec<holding> cdc;
  // The table as the reader knows it (to turn a truncate into the removal
  // of every row), and the changelog it feeds on.
  std::map<std::int64_t, holding> table;
  std::vector<change<holding>> changelog;
  int truncates = 0;
  for (const std::string& message :
       {snapshot_1, snapshot_2, insert_3, update_1, update_2, delete_3, tombstone_3, truncate_all, insert_4}) {
    decoded<debezium_event<holding>> d = cdc.decode(message);
    REQUIRE_MESSAGE(d.ok(), d.error().message());
    d.value().for_each_row(
        [&](const change<holding>& r) {
          changelog.push_back(r);
          if (r.kind == change_kind::insert || r.kind == change_kind::update_after) {
            table[r.id] = r;
          } else {
            REQUIRE(table.count(r.id) == 1);
            CHECK(table[r.id] == static_cast<const holding&>(r));  // a retraction retracts what was there
            table.erase(r.id);
          }
        },
        [&] {
          ++truncates;
          for (const auto& [id, h] : table) changelog.push_back(change<holding>{h, change_kind::remove});
          table.clear();
        });
  }
  CHECK(truncates == 1);
  CHECK(changelog.size() == 2 + 1 + 2 + 2 + 1 + 2 + 1);  // r r c u(2) u(2) d, t: two rows left, c

  // Quantity and row count per account over the whole hour, from the rows
  // as the windows read them (change<holding> is a changelog row).
  static_assert(changelog_row<change<holding>>);
  using totals = std::tuple<std::int64_t, std::int64_t>;
  const auto totals_of = [](const std::vector<change<holding>>& in) {
    std::vector<window_row<std::uint32_t, totals>> rows;
    auto p = from(in) | event_time(&holding::ts) | key_by(&holding::account) |
             tumbling(std::chrono::hours(1)).aggregate(aggregates(sum(&holding::qty), count())).emit(emit_mode::eager) |
             collect(rows);
    p.run();
    std::map<std::uint32_t, totals> last;  // each key's latest row; -D when its group emptied
    for (const auto& r : rows) {
      if (r.kind == change_kind::remove) {
        last.erase(r.key);
      } else if (r.kind != change_kind::update_before) {
        last[r.key] = r.value;
      }
    }
    return last;
  };
  // Before the truncate: account 7 holds id 1 (160), account 9 id 2 (-10).
  const std::vector<change<holding>> before_truncate(changelog.begin(), changelog.begin() + 8);
  CHECK(totals_of(before_truncate) == std::map<std::uint32_t, totals>{{7, {160, 1}}, {9, {-10, 1}}});
  // After it, only id 4 remains.
  CHECK(totals_of(changelog) == std::map<std::uint32_t, totals>{{9, {5, 1}}});
  CHECK(table.size() == 1);
}

TEST_CASE("debezium: every malformed message is a decode_error naming the member and the reason") {
  const debezium_codec<holding> cdc;
  const std::string after = R"({"id":1,"account":7,"sym":"ABC","qty":100,"px":10.5,"note":null,"updated_at":5})";
  struct bad_message {
    std::string message;
    std::string field;
    std::string reason;
  };
  const bad_message cases[] = {
      {"[1,2]", "", "expected an object, found an array"},
      {R"("c")", "", "expected an object, found a string"},
      {R"({"schema":{},"payload":5})", "payload", "expected an object, found an integer"},
      {R"({"after":)" + after + "}", "op", "missing"},
      {R"({"op":1,"after":)" + after + "}", "op", "expected a string, found an integer"},
      {R"({"op":"x","after":)" + after + "}", "op", "expected one of c, r, u, d, t, found 'x'"},
      {R"({"op":"m","after":)" + after + "}", "op", "expected one of c, r, u, d, t, found 'm'"},
      {R"({"op":"c","before":null})", "after", "missing: a create (op c) needs the row after it"},
      {R"({"op":"r","after":null})", "after", "found null: a snapshot read (op r) needs the row after it"},
      {R"({"op":"u","before":)" + after + R"(,"after":null})", "after",
       "found null: an update (op u) needs the row after it"},
      {R"({"op":"u","before":null,"after":)" + after + "}", "before",
       "found null: an update (op u) needs the row before it (the source must log whole old rows: PostgreSQL's "
       "REPLICA IDENTITY FULL)"},
      {R"({"op":"u","after":)" + after + "}", "before", "missing: an update (op u) needs the row before it"},
      {R"({"op":"d","after":null})", "before", "missing: a delete (op d) needs the row before it"},
      {R"({"op":"d","before":null,"after":null})", "before", "found null: a delete (op d) needs the row before it"},
      // A delete whose before holds only the key (REPLICA IDENTITY DEFAULT): no guessing the rest.
      {R"({"op":"d","before":{"id":1},"after":null})", "before.account", "missing"},
      {R"({"op":"c","after":{"id":1,"account":7,"sym":"ABC","qty":100,"px":"10.5","updated_at":5}})", "after.px",
       "expected a number, found a string"},
      {R"({"op":"c","after":{"id":1,"account":-7,"sym":"ABC","qty":100,"px":10.5,"updated_at":5}})", "after.account",
       "expected an integer in range, found an integer"},
      {R"({"op":"c","after":{"id":1,"account":7,"sym":"ABC","qty":1.5,"px":10.5,"updated_at":5}})", "after.qty",
       "expected an integer, found a number with a fraction"},
      {R"({"op":"c","after":{"id":1,"account":7,"qty":100,"px":10.5,"updated_at":5}})", "after.sym", "missing"},
      {R"({"op":"c","after":{"id":1,"account":7,"sym":"ABC","qty":100,"px":10.5,"note":3,"updated_at":5}})",
       "after.note", "expected a string, found an integer"},
      {R"({"op":"c","after":[1]})", "after", "expected an object, found an array"},
      {R"({"op":"u","before":{"id":"1"},"after":)" + after + "}", "before.id", "expected an integer, found a string"},
      {R"({"op":"c","after":)" + after + R"(,"ts_ms":"1700000000512"})", "ts_ms", "expected an integer, found a string"},
      {R"({"op":"c","after":)" + after + R"(,"source":"pg"})", "source", "expected an object, found a string"},
      {R"({"op":"c","after":)" + after + R"(,"source":{"ts_ms":1.5}})", "source.ts_ms",
       "expected an integer, found a number with a fraction"},
  };
  for (const bad_message& c : cases) {
    CAPTURE(c.message);
    const decoded<debezium_event<holding>> d = cdc.decode(c.message);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().field == c.field);
    CHECK(d.error().position == 0);
    CHECK(d.error().reason == c.reason);
    // The same inside the envelope.
    const decoded<debezium_event<holding>> wrapped = cdc.decode(R"({"schema":null,"payload":)" + c.message + "}");
    REQUIRE_FALSE(wrapped.ok());
    if (c.field.empty() || c.field == "payload") continue;  // the payload itself is not an object
    CHECK(wrapped.error().field == c.field);
    CHECK(wrapped.error().reason == c.reason);
  }
  // Text that is not JSON: the byte where parsing stopped.
  const decoded<debezium_event<holding>> cut = cdc.decode(insert_3.substr(0, 40));
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().field.empty());
  CHECK(cut.error().position == 40);
  CHECK(cut.error().reason.rfind("not JSON: ", 0) == 0);
  const decoded<debezium_event<holding>> junk = cdc.decode(R"({"op":"c",,})");
  REQUIRE_FALSE(junk.ok());
  CHECK(junk.error().position == 10);
  CHECK_FALSE(cdc.decode("").ok());
  CHECK(cdc.decode("").error().reason.rfind("not JSON: ", 0) == 0);
  // A number beyond double is an error, not an exception (found by fuzzing).
  const decoded<debezium_event<holding>> huge =
      cdc.decode(R"({"op":"c","after":{"id":1,"account":7,"sym":"ABC","qty":100,"px":1e400,"updated_at":5}})");
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error().reason.rfind("a number out of range: ", 0) == 0);
  // decoded::value() of a failure names it.
  decoded<debezium_event<holding>> failed = cdc.decode(R"({"op":"x"})");
  CHECK_THROWS_AS((void)failed.value(), usage_error);
}

TEST_CASE("debezium: events and rows survive encode and decode") {
  const debezium_codec<holding> cdc;
  std::mt19937_64 rng(41);
  const std::vector<std::string> pieces = {"a", "b", "\"", "\\", "\n", "\xc3\xa9", "{"};
  const auto random_row = [&] {
    holding h;
    h.id = static_cast<std::int64_t>(rng());
    h.account = static_cast<std::uint32_t>(rng());
    for (std::size_t n = rng() % 6; n > 0; --n) h.sym += pieces[rng() % pieces.size()];
    h.qty = static_cast<std::int64_t>(rng());
    h.px = static_cast<double>(static_cast<std::int64_t>(rng() % 2'000'001) - 1'000'000) / 64.0;
    if (rng() % 2) h.note = std::string(rng() % 4, 'n');
    h.ts = timestamp::from_nanos(static_cast<std::int64_t>(rng()));
    return h;
  };
  std::string all;
  std::vector<debezium_event<holding>> events;
  for (int i = 0; i < 600; ++i) {
    switch (rng() % 6) {
      case 0: events.push_back(debezium_event<holding>::created(random_row())); break;
      case 1: events.push_back(debezium_event<holding>::read(random_row())); break;
      case 2: events.push_back(debezium_event<holding>::updated(random_row(), random_row())); break;
      case 3: events.push_back(debezium_event<holding>::deleted(random_row())); break;
      case 4: events.push_back(debezium_event<holding>::truncated()); break;
      default: events.push_back(debezium_event<holding>::tombstone()); break;
    }
    if (events.back().op() != debezium_op::tombstone) {
      if (rng() % 2) events.back().ts_ms = static_cast<std::int64_t>(rng() >> 1);
      if (rng() % 2) events.back().source_ts_ms = static_cast<std::int64_t>(rng() >> 1);
    }
    std::string line;
    cdc.encode(events.back(), line);
    REQUIRE(line.back() == '\n');
    REQUIRE(line.find('\n') == line.size() - 1);
    all += line;
    decoded<debezium_event<holding>> d = cdc.decode(line);
    REQUIRE_MESSAGE(d.ok(), d.error().message());
    CHECK(d.value() == events.back());
  }
  // The form of one: a payload with before and after.
  std::string one;
  debezium_event<holding> e = debezium_event<holding>::updated(row(1, 7, "A", 1, 1.5, std::nullopt, 10),
                                                               row(1, 7, "A", 2, 1.5, "x", 20));
  e.ts_ms = 99;
  cdc.encode(e, one);
  CHECK(one ==
        R"({"before":{"id":1,"account":7,"sym":"A","qty":1,"px":1.5,"note":null,"updated_at":10},)"
        R"("after":{"id":1,"account":7,"sym":"A","qty":2,"px":1.5,"note":"x","updated_at":20},)"
        R"("source":{},"op":"u","ts_ms":99})" "\n");
  // Rows alone: +I as a create, -D as a delete; -U / +U are half an update.
  const change<holding> ins{row(5, 1, "Q", 3, 2.0, std::nullopt, 7), change_kind::insert};
  const change<holding> del{row(5, 1, "Q", 3, 2.0, std::nullopt, 7), change_kind::remove};
  for (const change<holding>& r : {ins, del}) {
    std::string line;
    cdc.encode(r, line);
    decoded<debezium_event<holding>> d = cdc.decode(line);
    REQUIRE_MESSAGE(d.ok(), d.error().message());
    CHECK(d.value().op() == (r.kind == change_kind::insert ? debezium_op::create : debezium_op::remove));
    REQUIRE(d.value().rows().size() == 1);
    CHECK(d.value().rows()[0] == r);
  }
  std::string out;
  CHECK_THROWS_AS(cdc.encode(change<holding>{row(5, 1, "Q", 3, 2.0, std::nullopt, 7), change_kind::update_after}, out),
                  usage_error);
  CHECK_THROWS_AS(cdc.encode(change<holding>{row(5, 1, "Q", 3, 2.0, std::nullopt, 7), change_kind::update_before}, out),
                  usage_error);
  CHECK(out.empty());
}
