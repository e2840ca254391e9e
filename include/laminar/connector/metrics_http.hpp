// A small HTTP endpoint that serves metrics in the Prometheus text format
// at /metrics, on Boost.Asio (optional: only this header pulls in Asio).
//
//   laminar::metrics_endpoint metrics({"127.0.0.1", 9464}, [&g] { return g.prometheus(); });
//   // curl http://127.0.0.1:9464/metrics
//
// It has a thread of its own, which accepts a connection at a time, reads
// the request (at most 8 KiB of headers, 2 s to send them), calls the
// render function and answers; so the render function is called on that
// thread (graph::prometheus() reads the workers' relaxed counters: safe
// from any thread). GET and HEAD of /metrics are 200 with the text; other
// paths are 404, other methods 405, a request it cannot read 400. Every
// answer closes its connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "laminar/core/error.hpp"

namespace laminar {

/// Where the endpoint listens: a port of 0 picks a free one (port()).
struct http_endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
};

class metrics_endpoint {
 public:
  /// Listens at `at` now; `render()` gives the text served at /metrics.
  metrics_endpoint(const http_endpoint& at, std::function<std::string()> render)
      : render_(std::move(render)), acceptor_(ctx_) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(at.host, ec);
    if (ec) throw error("metrics endpoint: '" + at.host + "' is not an IP address: " + ec.message());
    const boost::asio::ip::tcp::endpoint local(address, at.port);
    acceptor_.open(local.protocol(), ec);
    if (!ec) acceptor_.set_option(boost::asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(local, ec);
    if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw error("metrics endpoint: listening on " + at.host + ":" + std::to_string(at.port) + " failed: " +
                  ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    accept();
    thread_ = std::thread([this] { ctx_.run(); });
  }
  metrics_endpoint(const metrics_endpoint&) = delete;
  metrics_endpoint& operator=(const metrics_endpoint&) = delete;
  ~metrics_endpoint() {
    boost::asio::post(ctx_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      ctx_.stop();
    });
    thread_.join();
  }

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// Requests answered (any status).
  [[nodiscard]] std::uint64_t requests() const noexcept { return requests_.load(std::memory_order_relaxed); }

 private:
  struct exchange {
    explicit exchange(boost::asio::io_context& ctx) : socket(ctx), deadline(ctx), request(8192) {}
    boost::asio::ip::tcp::socket socket;
    boost::asio::steady_timer deadline;
    boost::asio::streambuf request;
    std::string response;
  };

  void accept() {
    auto ex = std::make_shared<exchange>(ctx_);
    acceptor_.async_accept(ex->socket, [this, ex](const boost::system::error_code& e) {
      if (e == boost::asio::error::operation_aborted) return;
      if (!e) serve(ex);
      accept();
    });
  }

  void serve(const std::shared_ptr<exchange>& ex) {
    ex->deadline.expires_after(std::chrono::seconds(2));
    ex->deadline.async_wait([ex](const boost::system::error_code& e) {
      if (e) return;
      boost::system::error_code ignored;
      ex->socket.close(ignored);  // a client too slow to send its request
    });
    boost::asio::async_read_until(ex->socket, ex->request, "\r\n\r\n",
                                  [this, ex](const boost::system::error_code& e, std::size_t) {
                                    ex->deadline.cancel();
                                    if (e && e != boost::asio::error::not_found) return;  // gone, or too slow
                                    answer(ex, e ? std::string_view() : request_line(*ex));
                                  });
  }

  static std::string_view request_line(exchange& ex) {
    const auto data = ex.request.data();
    const std::string_view text(static_cast<const char*>(data.data()), data.size());
    return text.substr(0, text.find("\r\n"));
  }

  void answer(const std::shared_ptr<exchange>& ex, std::string_view line) {
    // "GET /metrics HTTP/1.1": method, target (its query ignored), version.
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    int status = 400;
    bool head = false;
    std::string body = "bad request\n";
    if (sp2 != std::string_view::npos && line.substr(sp2 + 1).starts_with("HTTP/1.")) {
      const std::string_view method = line.substr(0, sp1);
      std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      target = target.substr(0, target.find('?'));
      if (target != "/metrics") {
        status = 404;
        body = "not found: the metrics are at /metrics\n";
      } else if (method != "GET" && method != "HEAD") {
        status = 405;
        body = "method not allowed\n";
      } else {
        try {
          body = render_();
          status = 200;
        } catch (const std::exception& err) {
          status = 500;
          body = std::string("rendering the metrics failed: ") + err.what() + "\n";
        }
        head = method == "HEAD";
      }
    }
    ex->response = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
                   "\r\nContent-Type: " + (status == 200 ? "text/plain; version=0.0.4" : "text/plain") +
                   "; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
                   "\r\nConnection: close\r\n\r\n";
    if (!head) ex->response += body;
    requests_.fetch_add(1, std::memory_order_relaxed);
    boost::asio::async_write(ex->socket, boost::asio::buffer(ex->response),
                             [ex](const boost::system::error_code&, std::size_t) {
                               boost::system::error_code ignored;
                               ex->socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
                               ex->socket.close(ignored);
                             });
  }

  static const char* reason(int status) {
    switch (status) {
      case 200: return "OK";
      case 404: return "Not Found";
      case 405: return "Method Not Allowed";
      case 500: return "Internal Server Error";
      default: return "Bad Request";
    }
  }

  std::function<std::string()> render_;
  boost::asio::io_context ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<std::uint64_t> requests_{0};
  std::thread thread_;
};

}  // namespace laminar
