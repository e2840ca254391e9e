// Connectors end to end, each against a baseline in the same run:
//
//   tcp_loopback_events_per_s        JSON lines over loopback TCP through from_tcp
//                                    (I/O thread -> chunks -> worker decodes) into a sink
//   tcp_loopback_vs_asio_read_loop   that, against a bare blocking Asio read loop over
//                                    the same bytes that splits and decodes each line
//                                    with the same codec inline: the connector's cost
//   file_json_to_window_events_per_s a JSON lines file through from_file into keyed
//                                    one-second OHLC windows
//   file_json_to_window_vs_json_decode  that, against decoding the same lines from
//                                    memory alone (no file, no window)
//
// Medians of the trials. The loopback figures include the sender's work
// (one thread writing pre-encoded bytes), on both sides alike.
#include <laminar/connector/file_source.hpp>
#include <laminar/connector/tcp.hpp>
#include <laminar/laminar.hpp>
#include <laminar/serde/json.hpp>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/bench.hpp"

using namespace laminar;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

struct trade {
  std::string symbol;
  double price = 0;
  std::int64_t qty = 0;
  timestamp ts;
  std::uint32_t venue = 0;
};
constexpr auto laminar_fields(const trade*) {
  return describe(field_named("symbol", &trade::symbol), field_named("price", &trade::price),
                  field_named("qty", &trade::qty), field_named("ts", &trade::ts), field_named("venue", &trade::venue));
}

std::string json_lines(std::size_t n) {
  const char* names[] = {"AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "AVGO"};
  std::mt19937_64 rng(42);
  const json_codec<trade> json;
  std::string text;
  double px = 100;
  for (std::size_t i = 0; i < n; ++i) {
    px += (static_cast<double>(rng() % 21) - 10.0) * 0.01;
    json.encode(trade{names[rng() % 8], px, 1 + static_cast<std::int64_t>(rng() % 500),
                      timestamp::from_nanos(static_cast<std::int64_t>(i) * 1'000'000), static_cast<std::uint32_t>(rng() % 4)},
                text);
  }
  return text;
}

/// A loopback server that sends `text` to the first connection, then closes.
struct feed_server {
  asio::io_context ctx;
  asio::ip::tcp::acceptor acceptor{ctx, {asio::ip::make_address("127.0.0.1"), 0}};
  std::thread thread;
  explicit feed_server(const std::string& text) {
    thread = std::thread([this, &text] {
      asio::ip::tcp::socket s(ctx);
      acceptor.accept(s);
      asio::write(s, asio::buffer(text));
    });
  }
  ~feed_server() { thread.join(); }
  [[nodiscard]] std::uint16_t port() const { return acceptor.local_endpoint().port(); }
};

double tcp_connector_rate(const std::string& text, std::size_t n) {
  feed_server server(text);
  std::size_t got = 0;
  bench::stopwatch clock;
  auto p = from_tcp({"127.0.0.1", server.port()}, json_codec<trade>{}, tcp_options{.reconnect = false}) |
           sink([&](const trade& t) { got += t.venue < 8 ? 1 : 0; });
  p.run();
  const double s = static_cast<double>(clock.elapsed_ns()) / 1e9;
  if (got != n) std::fprintf(stderr, "tcp connector: %zu of %zu records\n", got, n);
  return static_cast<double>(got) / s;
}

double asio_read_loop_rate(const std::string& text, std::size_t n) {
  feed_server server(text);
  std::size_t got = 0;
  const json_codec<trade> json;
  bench::stopwatch clock;
  asio::io_context ctx;
  asio::ip::tcp::socket s(ctx);
  s.connect({asio::ip::make_address("127.0.0.1"), server.port()});
  std::string buf(64 << 10, '\0');
  std::string carry;
  boost::system::error_code ec;
  while (true) {
    const std::size_t r = s.read_some(asio::buffer(buf.data(), buf.size()), ec);
    carry.append(buf.data(), r);
    std::size_t at = 0;
    for (std::size_t nl; (nl = carry.find('\n', at)) != std::string::npos; at = nl + 1) {
      decoded<trade> d = json.decode(std::string_view(carry).substr(at, nl - at));
      if (d.ok() && d.value().venue < 8) ++got;
    }
    carry.erase(0, at);
    if (ec) break;
  }
  const double secs = static_cast<double>(clock.elapsed_ns()) / 1e9;
  if (got != n) std::fprintf(stderr, "asio read loop: %zu of %zu records\n", got, n);
  return static_cast<double>(got) / secs;
}

struct bar_value {
  ohlc_bar<double> prices;
  std::int64_t volume;
};

double file_to_window_rate(const std::filesystem::path& file, std::size_t n) {
  std::size_t bars = 0;
  bench::stopwatch clock;
  auto p = from_file(file, json_codec<trade>{}) | with_watermarks(&trade::ts, bounded_out_of_orderness(0ms)) |
           key_by(&trade::symbol) |
           tumbling(1s).aggregate(aggregates_into<bar_value>(ohlc(&trade::price), sum(&trade::qty))) |
           sink([&](const auto&) { ++bars; });
  p.run();
  const double s = static_cast<double>(clock.elapsed_ns()) / 1e9;
  if (bars == 0) std::fprintf(stderr, "file to window: no bars\n");
  return static_cast<double>(n) / s;
}

double decode_rate(const std::string& text, std::size_t n) {
  const json_codec<trade> json;
  std::size_t got = 0;
  bench::stopwatch clock;
  std::size_t at = 0;
  for (std::size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) {
    decoded<trade> d = json.decode(std::string_view(text).substr(at, nl - at));
    if (d.ok() && d.value().venue < 8) ++got;
  }
  const double s = static_cast<double>(clock.elapsed_ns()) / 1e9;
  if (got != n) std::fprintf(stderr, "decode: %zu of %zu records\n", got, n);
  return static_cast<double>(got) / s;
}

}  // namespace

int main() {
  const std::size_t n = bench::pick<std::size_t>(1'000'000, 20'000);
  const int trials = bench::pick(5, 1);
  const std::string text = json_lines(n);

  std::vector<double> ours, bare;
  for (int t = 0; t < trials; ++t) {  // interleaved, so drift hits both alike
    ours.push_back(tcp_connector_rate(text, n));
    bare.push_back(asio_read_loop_rate(text, n));
  }
  const double tcp = bench::median(ours);
  bench::report("tcp_loopback_events_per_s", tcp, "events/s");
  bench::report("tcp_loopback_vs_asio_read_loop", tcp / bench::median(bare), "x");

  const auto file = std::filesystem::temp_directory_path() / ("laminar-bench-" + std::to_string(::getpid()) + ".jsonl");
  std::ofstream(file, std::ios::binary) << text;
  std::vector<double> windowed, decoded_only;
  for (int t = 0; t < trials; ++t) {
    windowed.push_back(file_to_window_rate(file, n));
    decoded_only.push_back(decode_rate(text, n));
  }
  std::filesystem::remove(file);
  const double w = bench::median(windowed);
  bench::report("file_json_to_window_events_per_s", w, "events/s");
  bench::report("file_json_to_window_vs_json_decode", w / bench::median(decoded_only), "x");
  return 0;
}
