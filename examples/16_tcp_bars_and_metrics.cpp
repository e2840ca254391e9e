// 16: a feed over TCP, one-second OHLC bars per symbol written as CSV, and
// the graph's metrics served at /metrics.
//
// A feed server (here a thread of this program, on 127.0.0.1) sends trades
// as JSON lines. The graph reads them with from_tcp: the source's I/O
// thread reads the socket, a worker decodes the bytes into the chain. One
// line is malformed: it becomes a dead letter naming where it was and why,
// and the stream goes on. The bars go through an exactly-once file sink as
// CSV; a Prometheus scraper would read the node metrics from /metrics
// (this program scrapes itself once, at the end).
#include <laminar/checkpoint/file_sink.hpp>
#include <laminar/connector/metrics_http.hpp>
#include <laminar/connector/tcp.hpp>
#include <laminar/connector/file_source.hpp>
#include <laminar/laminar.hpp>
#include <laminar/serde/csv.hpp>
#include <laminar/serde/json.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>

using namespace laminar;
using namespace std::chrono_literals;

struct trade {
  std::string symbol;
  double price = 0;
  std::int64_t qty = 0;
  timestamp ts;
};
constexpr auto laminar_fields(const trade*) {
  return describe(field_named("symbol", &trade::symbol), field_named("price", &trade::price),
                  field_named("qty", &trade::qty), field_named("ts", &trade::ts));
}

struct bar {  // one CSV row
  std::string symbol;
  std::int64_t second = 0;
  double open = 0, high = 0, low = 0, close = 0;
  std::int64_t volume = 0;
  double vwap = 0;
};
constexpr auto laminar_fields(const bar*) {
  return describe(field_named("symbol", &bar::symbol), field_named("second", &bar::second),
                  field_named("open", &bar::open), field_named("high", &bar::high), field_named("low", &bar::low),
                  field_named("close", &bar::close), field_named("volume", &bar::volume),
                  field_named("vwap", &bar::vwap));
}

struct bar_value {
  ohlc_bar<double> prices;
  std::int64_t volume;
  double vwap;
};

// The feed: five seconds of trades as JSON lines, then it closes.
void serve_feed(boost::asio::ip::tcp::acceptor& acceptor) {
  boost::asio::ip::tcp::socket s(acceptor.get_executor());
  acceptor.accept(s);
  const json_codec<trade> json;
  const char* names[] = {"AAPL", "MSFT", "NVDA"};
  double px[] = {180.0, 410.0, 120.0};
  std::mt19937_64 rng(16);
  std::string text;
  for (std::int64_t t = 0; t < 5'000'000'000; t += 5'000'000) {
    const auto i = rng() % 3;
    px[i] += (static_cast<double>(rng() % 21) - 10.0) * 0.01;
    json.encode(trade{names[i], px[i], 1 + static_cast<std::int64_t>(rng() % 500), timestamp::from_nanos(t)}, text);
    if (t == 2'000'000'000) text += "{\"symbol\":\"MSFT\",\"price\":\"n/a\",\"qty\":1,\"ts\":2000000000}\n";
  }
  boost::asio::write(s, boost::asio::buffer(text));
}

int main() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor feed(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  std::thread server([&] { serve_feed(feed); });
  const auto out_dir = std::filesystem::temp_directory_path() / ("laminar-example-16-" + std::to_string(::getpid()));
  std::filesystem::remove_all(out_dir);

  side_records<dead_letter> bad;
  graph g(runtime_options{.workers = 2});
  auto trades = g.source("trades", from_tcp({"127.0.0.1", feed.local_endpoint().port()}, json_codec<trade>{},
                                            tcp_options{.reconnect = false})  // the feed's close ends the stream
                                           .dead_letters_to(bad) |
                                       with_watermarks(&trade::ts, bounded_out_of_orderness(10ms)) |
                                       key_by(&trade::symbol));
  auto bars = g.node("bars", trades,
                     tumbling(1s).aggregate(aggregates_into<bar_value>(ohlc(&trade::price), sum(&trade::qty),
                                                                       vwap(&trade::price, &trade::qty))) |
                         map([](const window_row<std::string, bar_value>& r) {
                           return bar{r.key, r.start.nanos() / 1'000'000'000, r.value.prices.open,
                                      r.value.prices.high, r.value.prices.low, r.value.prices.close, r.value.volume,
                                      r.value.vwap};
                         }));
  g.node("csv", bars, transactional_file_sink(out_dir, csv_codec<bar>{}));

  metrics_endpoint metrics({"127.0.0.1", 0}, [&g] { return g.prometheus(); });
  g.run();
  server.join();

  // The bars, read back from the committed CSV parts.
  std::size_t rows = 0;
  auto check = from_directory(out_dir, csv_codec<bar>{}) | sink([&](const bar& b) {
                 ++rows;
                 std::printf("%s %lds  O %.2f H %.2f L %.2f C %.2f  vol %5ld  vwap %.3f\n", b.symbol.c_str(),
                             static_cast<long>(b.second), b.open, b.high, b.low, b.close,
                             static_cast<long>(b.volume), b.vwap);
               });
  check.run();
  for (const dead_letter& d : bad.records()) std::printf("dead letter: %s\n", d.message().c_str());

  // Scrape /metrics as Prometheus would.
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), metrics.port()});
  boost::asio::write(s, boost::asio::buffer(std::string("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")));
  std::string answer;
  char buf[4096];
  boost::system::error_code ec;
  while (!ec) answer.append(buf, s.read_some(boost::asio::buffer(buf), ec));
  std::printf("GET /metrics:\n");
  for (std::size_t at = answer.find("laminar_node_events_in_total{"); at != std::string::npos;
       at = answer.find("laminar_node_events_in_total{", at + 1)) {
    std::printf("  %s\n", answer.substr(at, answer.find('\n', at) - at).c_str());
  }
  std::filesystem::remove_all(out_dir);
  return rows == 15 && bad.count() == 1 && answer.starts_with("HTTP/1.1 200 OK") ? 0 : 1;
}
