// TCP over loopback (127.0.0.1 only; every wait bounded): a feed server's
// JSON lines through a window into a TCP sink, compared with a count by
// hand; a peer that closes and accepts again (the source reconnects; a
// record cut by the close is a dead letter of its connection); a slow
// pipeline holding the sender back without loss; failed connects named.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <laminar/connector/tcp.hpp>
#include <laminar/laminar.hpp>
#include <laminar/serde/csv.hpp>
#include <laminar/serde/json.hpp>
#include <map>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "serde/records.hpp"

using namespace laminar;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::ip::tcp;
using serde_test::order;

namespace {

order make_order(std::uint32_t i) {
  order o;
  o.sym = "S" + std::to_string(i % 7);
  o.at = {static_cast<double>(i) / 8, static_cast<std::int64_t>(i)};
  o.ts = timestamp::from_nanos(static_cast<std::int64_t>(i) * 100'000);
  o.venue = i;
  return o;
}

std::string json_lines(std::uint32_t from, std::uint32_t to) {
  const json_codec<order> json;
  std::string text;
  for (std::uint32_t i = from; i < to; ++i) json.encode(make_order(i), text);
  return text;
}

/// A listening socket on 127.0.0.1 with an ephemeral port.
struct listener {
  asio::io_context ctx;
  tcp::acceptor acceptor{ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  [[nodiscard]] tcp_endpoint endpoint() const { return {"127.0.0.1", acceptor.local_endpoint().port()}; }
  tcp::socket accept() {
    tcp::socket s(ctx);
    acceptor.accept(s);
    return s;
  }
};

/// Drives a pipeline until done() or the deadline.
template <class P, class Done>
void drive(P& p, Done done, std::chrono::seconds limit = 10s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done() && !p.exhausted() && std::chrono::steady_clock::now() < until) {
    if (p.run_for(4096) == 0) std::this_thread::sleep_for(100us);
  }
}

struct bar {
  std::string sym;
  std::int64_t start = 0;
  std::int64_t count = 0;
};
constexpr auto laminar_fields(const bar*) {
  return describe(field_named("sym", &bar::sym), field_named("start", &bar::start), field_named("count", &bar::count));
}

}  // namespace

TEST_CASE("tcp: a feed's JSON lines through a keyed window into a TCP sink (CSV), equal to a count by hand") {
  constexpr std::uint32_t n = 20'000;
  listener feed, out;
  std::thread server([&] {
    tcp::socket s = feed.accept();
    const std::string text = json_lines(0, n);
    for (std::size_t at = 0; at < text.size(); at += 1000) {  // in pieces: records cut across reads
      asio::write(s, asio::buffer(text.data() + at, std::min<std::size_t>(1000, text.size() - at)));
    }
  });  // closes: without reconnection, the end of the stream
  std::string received;
  std::thread receiver([&] {
    tcp::socket s = out.accept();
    std::array<char, 4096> b{};
    boost::system::error_code ec;
    while (!ec) received.append(b.data(), s.read_some(asio::buffer(b), ec));
  });

  std::map<std::pair<std::string, std::int64_t>, std::int64_t> by_hand;
  for (std::uint32_t i = 0; i < n; ++i) {
    const order o = make_order(i);
    ++by_hand[{o.sym, o.ts.nanos() / 100'000'000}];
  }
  {
    auto p = from_tcp(feed.endpoint(), json_codec<order>{}, tcp_options{.reconnect = false, .chunk_bytes = 4096}) |
             with_watermarks(&order::ts, bounded_out_of_orderness(0ms)) | key_by(&order::sym) |
             tumbling(100ms).aggregate(count()) |
             map([](const auto& row) { return bar{row.key, row.start.nanos() / 100'000'000, row.value}; }) |
             to_tcp(out.endpoint(), csv_codec<bar>{});
    p.run();  // ends when the feed closes; the sink has written everything when it returns
    CHECK(p.source().inner().records() == n);
    CHECK(p.source().inner().connections() == 1);
  }  // the sink's connection closes
  server.join();
  receiver.join();

  std::map<std::pair<std::string, std::int64_t>, std::int64_t> got;
  const csv_codec<bar> csv;
  std::size_t rows = 0;
  for (std::size_t at = 0; at < received.size();) {
    const std::size_t nl = received.find('\n', at);
    REQUIRE(nl != std::string::npos);
    decoded<bar> b = csv.decode(std::string_view(received).substr(at, nl - at));
    REQUIRE_MESSAGE(b.ok(), b.error().message());
    got[{b.value().sym, b.value().start}] += b.value().count;
    ++rows;
    at = nl + 1;
  }
  CHECK(rows == by_hand.size());
  CHECK(got == by_hand);
}

TEST_CASE("tcp: a peer that closes and accepts again; the record cut by the close is its connection's dead letter") {
  listener feed;
  const std::string first = json_lines(0, 100) + "{\"sym\":\"cut";  // a record cut by the close
  const std::string second = json_lines(100, 250);
  std::thread server([&] {
    {
      tcp::socket s = feed.accept();
      asio::write(s, asio::buffer(first));
    }
    tcp::socket s = feed.accept();
    asio::write(s, asio::buffer(second));
    std::this_thread::sleep_for(50ms);
  });
  std::stop_source stop;
  side_records<dead_letter> dead;
  std::vector<std::uint32_t> got;
  auto p = from_tcp(feed.endpoint(), json_codec<order>{}, tcp_options{.backoff_min = 1ms}).until(stop.get_token())
               .dead_letters_to(dead) |
           sink([&](const order& o) { got.push_back(o.venue); });
  drive(p, [&] { return got.size() == 250; });
  server.join();
  stop.request_stop();
  drive(p, [] { return false; });
  CHECK(p.exhausted());
  REQUIRE(got.size() == 250);
  for (std::uint32_t i = 0; i < 250; ++i) CHECK(got[i] == i);
  CHECK(p.source().connections() >= 2);
  REQUIRE(dead.records().size() == 1);
  const dead_letter& d = dead.records()[0];
  CHECK(d.source == "tcp " + feed.endpoint().name() + " connection 1");
  CHECK(d.record == 101);
  CHECK(d.offset == first.size() - 11);
  CHECK(d.raw == "{\"sym\":\"cut");
  CHECK(d.error.reason.find("not JSON") != std::string::npos);
}

TEST_CASE("tcp: a slow pipeline holds the sender back (bounded buffering) and loses nothing") {
  constexpr std::uint32_t n = 200'000;  // ~20 MB of JSON: far more than the source and the kernel buffer
  listener feed;
  std::atomic<std::size_t> sent{0};
  const std::string text = json_lines(0, n);
  std::thread server([&] {
    tcp::socket s = feed.accept();
    for (std::size_t at = 0; at < text.size(); at += 16384) {
      const std::size_t len = std::min<std::size_t>(16384, text.size() - at);
      asio::write(s, asio::buffer(text.data() + at, len));
      sent.fetch_add(len);
    }
  });
  std::vector<std::uint32_t> got;
  got.reserve(n);
  const tcp_options options{.reconnect = false, .chunk_bytes = 16384, .max_chunks = 4};
  auto p = from_tcp(feed.endpoint(), json_codec<order>{}, options) |
           sink([&](const order& o) { got.push_back(o.venue); });
  p.run_for(1);  // connects
  // Not read for a while: the sender stalls once the source's chunks and
  // the kernel's buffers are full, far short of the whole.
  std::size_t before = 0;
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(10ms);
    const std::size_t now = sent.load();
    if (i > 20 && now == before) break;
    before = now;
  }
  CHECK(sent.load() < text.size() / 2);
  drive(p, [] { return false; }, 30s);
  server.join();
  CHECK(p.exhausted());
  REQUIRE(got.size() == n);
  bool in_order = true;
  for (std::uint32_t i = 0; i < n; ++i) in_order = in_order && got[i] == i;
  CHECK(in_order);
}

TEST_CASE("tcp: without reconnection a refused connect ends the stream with the reason; bad options refused") {
  std::uint16_t port = 0;
  {
    listener l;
    port = l.endpoint().port;
  }  // closed: nobody listens there now
  auto p = from_tcp(tcp_endpoint{"127.0.0.1", port}, json_codec<order>{}, tcp_options{.reconnect = false}) |
           sink([](const order&) {});
  CHECK_THROWS_WITH_AS(drive(p, [] { return false; }), doctest::Contains("failed"), tcp_error);
  CHECK_THROWS_AS(from_tcp(tcp_endpoint{"127.0.0.1", port}, json_codec<order>{}, tcp_options{.chunk_bytes = 0}),
                  usage_error);
  CHECK_THROWS_AS(to_tcp(tcp_endpoint{"127.0.0.1", port}, csv_codec<bar>{}, tcp_options{.backoff_min = 0ms}),
                  usage_error);
  auto q = from_tcp(tcp_endpoint{"not-an-address", port}, json_codec<order>{}, tcp_options{.reconnect = false}) |
           sink([](const order&) {});
  CHECK_THROWS_WITH_AS(drive(q, [] { return false; }), doctest::Contains("is not an IP address"), tcp_error);
}

TEST_CASE("tcp: the sink retries until its peer listens, then writes every record once") {
  std::uint16_t port = 0;
  {
    listener l;
    port = l.endpoint().port;
  }
  std::vector<order> records;
  for (std::uint32_t i = 0; i < 1000; ++i) records.push_back(make_order(i));
  std::string received;
  std::thread late_peer([&] {
    std::this_thread::sleep_for(100ms);  // the sink's first connects fail meanwhile
    asio::io_context ctx;
    tcp::acceptor a(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    tcp::socket s(ctx);
    a.accept(s);
    std::array<char, 4096> b{};
    boost::system::error_code ec;
    while (!ec) received.append(b.data(), s.read_some(asio::buffer(b), ec));
  });
  {
    auto p = from(records) | to_tcp(tcp_endpoint{"127.0.0.1", port}, json_codec<order>{},
                                     tcp_options{.backoff_min = 5ms, .backoff_max = 20ms});
    p.run();
  }
  late_peer.join();
  std::string expected;
  const json_codec<order> json;
  for (const order& o : records) json.encode(o, expected);
  CHECK(received == expected);
}
