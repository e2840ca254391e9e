// UDP over loopback (127.0.0.1; bounded waits): datagrams of JSON lines
// with a sequence number; gaps, duplicates and reordering reported exactly
// and counted; a duplicate not passed on; a bad record a dead letter of its
// datagram; the stream ends when asked.
#include <doctest/doctest.h>

#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstdint>
#include <laminar/connector/udp.hpp>
#include <laminar/laminar.hpp>
#include <laminar/serde/json.hpp>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

using namespace laminar;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

struct tick {
  std::uint64_t seq = 0;
  std::string sym;
  double px = 0;
};
constexpr auto laminar_fields(const tick*) {
  return describe(field_named("seq", &tick::seq), field_named("sym", &tick::sym), field_named("px", &tick::px));
}

/// Sends datagrams to 127.0.0.1:port.
struct sender {
  asio::io_context ctx;
  asio::ip::udp::socket socket{ctx, asio::ip::udp::endpoint(asio::ip::udp::v4(), 0)};
  asio::ip::udp::endpoint to;
  explicit sender(std::uint16_t port) : to(asio::ip::make_address("127.0.0.1"), port) {}
  void send(const std::string& datagram) { socket.send_to(asio::buffer(datagram), to); }
};

std::string lines(std::initializer_list<std::uint64_t> seqs) {
  const json_codec<tick> json;
  std::string text;
  for (std::uint64_t s : seqs) json.encode(tick{s, "S" + std::to_string(s % 3), static_cast<double>(s) / 2}, text);
  return text;
}

template <class P, class Done>
void drive(P& p, Done done, std::chrono::seconds limit = 10s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done() && !p.exhausted() && std::chrono::steady_clock::now() < until) {
    if (p.run_for(1024) == 0) std::this_thread::sleep_for(100us);
  }
}

}  // namespace

TEST_CASE("udp: datagrams of records; gaps, duplicates and reordering reported; a duplicate not passed on") {
  std::stop_source stop;
  side_records<sequence_report> reports;
  std::vector<std::uint64_t> got;
  auto src = from_udp(udp_endpoint{"127.0.0.1", 0}, json_codec<tick>{})
                 .sequence(&tick::seq)
                 .gaps_to(reports)
                 .until(stop.get_token());
  const std::uint16_t port = src.local_port();
  REQUIRE(port != 0);
  auto p = std::move(src) | sink([&](const tick& t) { got.push_back(t.seq); });

  sender out(port);
  // 0..99 two to a datagram, then: 103 (gap 100..102), 104 twice (a
  // duplicate datagram), 106 before 105 (reordered), 107, and 101 late.
  std::vector<std::string> datagrams;
  for (std::uint64_t s = 0; s < 100; s += 2) datagrams.push_back(lines({s, s + 1}));
  for (const std::string& d : {lines({103}), lines({104}), lines({104}), lines({106}), lines({105, 107}), lines({101})}) {
    datagrams.push_back(d);
  }
  for (std::size_t i = 0; i < datagrams.size(); ++i) {
    out.send(datagrams[i]);
    // In step with the reader, so that the loopback drops nothing.
    drive(p, [&] { return p.source().datagrams() == i + 1; });
  }
  stop.request_stop();
  drive(p, [] { return false; });
  CHECK(p.exhausted());

  std::vector<std::uint64_t> expected;
  for (std::uint64_t s = 0; s < 100; ++s) expected.push_back(s);
  for (std::uint64_t s : {103U, 104U, 106U, 105U, 107U, 101U}) expected.push_back(s);
  CHECK(got == expected);
  using k = sequence_report::kind;
  const std::vector<sequence_report> want = {
      {k::gap, 100, 103, 51}, {k::duplicate, 104, 105, 53}, {k::gap, 105, 106, 54},
      {k::reordered, 105, 106, 55}, {k::reordered, 101, 102, 56}};
  CHECK(reports.records() == want);
  CHECK(p.source().gaps() == 2);
  CHECK(p.source().missing() == 4);
  CHECK(p.source().duplicates() == 1);
  CHECK(p.source().reordered() == 2);
  CHECK(p.source().records() == expected.size());
  CHECK(p.source().datagrams() == datagrams.size());
}

TEST_CASE("udp: a bad record is a dead letter naming its datagram, its offset and number in it") {
  std::stop_source stop;
  side_records<dead_letter> dead;
  std::vector<std::uint64_t> got;
  auto src = from_udp(udp_endpoint{"127.0.0.1", 0}, json_codec<tick>{}).dead_letters_to(dead).until(stop.get_token());
  const std::uint16_t port = src.local_port();
  auto p = std::move(src) | sink([&](const tick& t) { got.push_back(t.seq); });
  sender out(port);
  const std::string first = lines({1});
  out.send(first + "{\"seq\":\"two\"}\n" + lines({3}));
  drive(p, [&] { return got.size() == 2; });
  stop.request_stop();
  drive(p, [] { return false; });
  CHECK(got == std::vector<std::uint64_t>{1, 3});
  REQUIRE(dead.records().size() == 1);
  const dead_letter& d = dead.records()[0];
  CHECK(d.source == "udp 127.0.0.1:" + std::to_string(port) + " datagram 1");
  CHECK(d.record == 2);
  CHECK(d.offset == first.size());
  CHECK(d.raw == "{\"seq\":\"two\"}");
  CHECK(d.error.field == "seq");

  // Failing fast: the same record stops the stream with the same names.
  auto q_src = from_udp(udp_endpoint{"127.0.0.1", 0}, json_codec<tick>{});
  sender again(q_src.local_port());
  auto q = std::move(q_src) | sink([](const tick&) {});
  again.send("{\"seq\":\"two\"}");
  CHECK_THROWS_WITH_AS(drive(q, [] { return false; }), doctest::Contains("datagram 1: record 1 (byte offset 0): field 'seq'"),
                       udp_error);
}

TEST_CASE("udp: a bad address is a clear error") {
  CHECK_THROWS_WITH_AS(from_udp(udp_endpoint{"nowhere", 0}, json_codec<tick>{}), doctest::Contains("not an IP address"),
                       udp_error);
  CHECK_THROWS_AS(from_udp(udp_endpoint{"127.0.0.1", 0}, json_codec<tick>{}, udp_options{.max_datagrams = 0}),
                  usage_error);
}
