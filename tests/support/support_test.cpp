#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "support/counting_allocator.hpp"
#include "support/differential.hpp"
#include "support/event_stream.hpp"

using namespace laminar::test;

namespace {

// What the failed checks of the running test case said: the harness's
// failure path is tested by what it reports, not only by its return value.
std::vector<std::string>& failure_messages() {
  static std::vector<std::string> messages;
  return messages;
}

struct failure_recorder : doctest::IReporter {
  explicit failure_recorder(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override { failure_messages().clear(); }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData& m) override {
    if ((m.m_severity & doctest::assertType::is_warn) == 0) failure_messages().emplace_back(m.m_string.c_str());
  }
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

REGISTER_LISTENER("failure_recorder", 1, failure_recorder);

TEST_CASE("counting allocator counts heap allocations") {
  allocation_counter c;
  // The empty asm makes the blocks escape, so the compiler cannot elide them.
  void* p = ::operator new(16);
  asm volatile("" : : "g"(p) : "memory");
  ::operator delete(p);
  std::vector<int> v(100);
  asm volatile("" : : "g"(v.data()) : "memory");
  CHECK(c.count() == 2);
}

TEST_CASE("event streams are seeded, out of order, with duplicates, late records and many keys") {
  stream_options o;
  o.records = 20'000;
  o.keys = 500;
  const auto a = make_stream(o);
  const auto b = make_stream(o);
  CHECK(a == b);
  o.seed = 2;
  CHECK(make_stream(o) != a);

  std::size_t out_of_order = 0, duplicates = 0, late = 0;
  std::int64_t front = a.front().ts;
  std::vector<bool> key_seen(o.keys);
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (i > 0 && a[i].ts < a[i - 1].ts) ++out_of_order;
    if (i > 0 && a[i].ts == a[i - 1].ts) ++duplicates;
    if (a[i].ts < front - o.max_disorder_ns - 2 * o.mean_step_ns) ++late;
    front = std::max(front, a[i].ts);
    key_seen[a[i].key] = true;
    CHECK(a[i].seq == i);
  }
  CHECK(out_of_order > a.size() / 10);
  CHECK(duplicates > a.size() / 50);
  CHECK(late > 0);
  CHECK(std::count(key_seen.begin(), key_seen.end(), true) == 500);
}

TEST_CASE("absurd timestamps appear when asked") {
  stream_options o;
  o.absurd_fraction = 0.01;
  const auto s = make_stream(o);
  CHECK(std::any_of(s.begin(), s.end(), [](const event& e) { return e.ts == std::numeric_limits<std::int64_t>::max(); }));
  CHECK(std::any_of(s.begin(), s.end(), [](const event& e) { return e.ts == std::numeric_limits<std::int64_t>::min(); }));
}

TEST_CASE("the differential harness passes equal outputs") {
  std::vector<int> in{1, 2, 3};
  CHECK(differential(
      in, [](const std::vector<int>& v) { return v; }, [](const std::vector<int>& v) { return v; }));
  CHECK(failure_messages().empty());
}

// These test cases must fail exactly once each, through the harness's own
// report: the expected_failures decorator turns exactly one failed check
// into a pass and any other count into a failure. So a check of what the
// harness did fails twice when it does not hold: the count is then never
// one, whether or not the harness reported.
namespace {

void expect(bool holds, const std::string& what) {
  if (!holds) {
    FAIL_CHECK(what);
    FAIL_CHECK(what);
  }
}

bool only_report_is(const std::string& message) {
  return failure_messages().size() == 1 && failure_messages()[0] == message;
}

}  // namespace

TEST_CASE("the differential harness reports the first difference, with its index and both values" *
          doctest::expected_failures(1)) {
  std::vector<int> in{1, 2, 3, 4};
  const bool same = differential(
      in,
      [](std::vector<int> v) {
        v[1] = 7;
        v[2] = 8;
        return v;
      },
      [](const std::vector<int>& v) { return v; }, "rows");
  expect(!same, "differential() returned true for different outputs");
  expect(only_report_is("rows differs at index 1 of 4: operator gave 7, reference model gave 2"),
         "the harness did not report the first difference as expected");
}

TEST_CASE("the differential harness reports outputs of different lengths" * doctest::expected_failures(1)) {
  const std::vector<int> longer{1, 2, 3}, shorter{1, 2};
  expect(!same_outputs(longer, shorter, "rows"), "same_outputs() returned true for outputs of different lengths");
  expect(only_report_is("rows: operator gave 3 records, reference model gave 2"),
         "the harness did not report the length mismatch as expected");
}

TEST_CASE("the differential harness fails a comparison whose reference gave nothing" * doctest::expected_failures(1)) {
  std::vector<int> in;
  expect(!differential(
             in, [](const std::vector<int>& v) { return v; }, [](const std::vector<int>& v) { return v; }, "rows"),
         "differential() returned true with nothing compared");
  expect(only_report_is("rows: the reference gave no output, so nothing was compared"),
         "the harness did not report the empty reference as expected");
  // Side outputs may be empty: plain same_outputs passes two empty ones.
  expect(same_outputs(std::vector<int>{}, std::vector<int>{}, "late records"), "two empty outputs differ");
}
