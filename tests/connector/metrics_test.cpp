// The /metrics endpoint, scraped over loopback (127.0.0.1; bounded): a
// graph's per-node metrics in the Prometheus text format while it runs
// and after; HEAD, an unknown path, another method and garbage answered
// with their statuses; a render that throws is a 500, and the endpoint
// goes on serving.
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <atomic>
#include <cstdint>
#include <laminar/connector/metrics_http.hpp>
#include <laminar/laminar.hpp>
#include <stdexcept>
#include <string>
#include <vector>

using namespace laminar;
namespace asio = boost::asio;

namespace {

/// Sends `request` to 127.0.0.1:port and reads the whole answer.
std::string ask(std::uint16_t port, const std::string& request) {
  asio::io_context ctx;
  asio::ip::tcp::socket s(ctx);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(s, asio::buffer(request));
  std::string answer;
  std::array<char, 4096> b{};
  boost::system::error_code ec;
  while (!ec) answer.append(b.data(), s.read_some(asio::buffer(b), ec));
  return answer;
}

std::string get(std::uint16_t port, const std::string& target) {
  return ask(port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n");
}

struct event {
  std::uint32_t key = 0;
  std::int64_t value = 0;
  timestamp ts;
};

}  // namespace

TEST_CASE("metrics endpoint: a graph's per-node metrics scraped over loopback, in the Prometheus text format") {
  std::vector<event> in;
  for (std::uint32_t i = 0; i < 20'000; ++i) in.push_back({i % 13, static_cast<std::int64_t>(i), timestamp::from_nanos(i)});
  std::uint64_t seen = 0;
  graph g(runtime_options{.workers = 2});
  auto src = g.source("events", from(in) | key_by(&event::key));
  auto doubled = g.parallel("double", src, 2, map([](const event& e) { return e.value * 2; }));
  g.merge("sink", sink([&](std::int64_t) { ++seen; }), doubled);

  metrics_endpoint metrics({"127.0.0.1", 0}, [&g] { return g.prometheus(); });
  REQUIRE(metrics.port() != 0);
  g.start();
  const std::string during = get(metrics.port(), "/metrics");  // while it runs: a consistent answer
  CHECK(during.starts_with("HTTP/1.1 200 OK\r\n"));
  g.wait();

  const std::string answer = get(metrics.port(), "/metrics?from=test");
  REQUIRE(answer.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(answer.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != std::string::npos);
  const std::size_t body_at = answer.find("\r\n\r\n") + 4;
  const std::string body = answer.substr(body_at);
  CHECK(answer.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
  CHECK(body == g.prometheus());
  CHECK(body.find("# TYPE laminar_node_events_in_total counter") != std::string::npos);
  const std::size_t line = body.find("laminar_node_events_out_total{node=\"events\",instance=\"0\",worker=\"");
  REQUIRE(line != std::string::npos);
  CHECK(body.substr(line, body.find('\n', line) - line).ends_with("} 20000"));
  CHECK(seen == in.size());

  const std::string head = ask(metrics.port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  CHECK(head.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(head.ends_with("\r\n\r\n"));  // the headers alone
  CHECK(get(metrics.port(), "/").starts_with("HTTP/1.1 404 Not Found\r\n"));
  CHECK(ask(metrics.port(), "POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
  CHECK(ask(metrics.port(), "hello\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request\r\n"));
  CHECK(metrics.requests() == 6);
}

TEST_CASE("metrics endpoint: a render that throws is a 500 naming why; a bad address is a clear error") {
  std::atomic<bool> fail{true};  // read on the endpoint's thread
  metrics_endpoint metrics({"127.0.0.1", 0}, [&fail]() -> std::string {
    if (fail.load()) throw std::runtime_error("no graph yet");
    return "up 1\n";
  });
  const std::string bad = get(metrics.port(), "/metrics");
  CHECK(bad.starts_with("HTTP/1.1 500 Internal Server Error\r\n"));
  CHECK(bad.ends_with("rendering the metrics failed: no graph yet\n"));
  fail.store(false);
  CHECK(get(metrics.port(), "/metrics").ends_with("\r\n\r\nup 1\n"));
  CHECK_THROWS_WITH_AS(metrics_endpoint({"not-an-address", 0}, [] { return std::string(); }),
                       doctest::Contains("is not an IP address"), error);
}
