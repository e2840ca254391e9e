// The differential harness: run an operator and a plain reference model on
// the same input and compare every output, reporting the first difference.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

namespace laminar::test {

/// Compares two output sequences element by element. On a mismatch it fails
/// the current test with the index and both values of the first difference.
template <class T>
bool same_outputs(const std::vector<T>& actual, const std::vector<T>& expected, const std::string& what = "output") {
  const std::size_t n = std::min(actual.size(), expected.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (!(actual[i] == expected[i])) {
      std::ostringstream os;
      os << what << " differs at index " << i << " of " << expected.size() << ": operator gave " << actual[i]
         << ", reference model gave " << expected[i];
      FAIL_CHECK(os.str());
      return false;
    }
  }
  if (actual.size() != expected.size()) {
    std::ostringstream os;
    os << what << ": operator gave " << actual.size() << " records, reference model gave " << expected.size();
    FAIL_CHECK(os.str());
    return false;
  }
  return true;
}

/// same_outputs for a comparison that must compare something: it also
/// fails the test when the reference gave no output at all, so a stream
/// that produces nothing cannot pass vacuously. For the main output of a
/// differential or restore check (not for side outputs that may well be
/// empty, such as late records).
template <class T>
bool same_nonempty_outputs(const std::vector<T>& actual, const std::vector<T>& expected,
                           const std::string& what = "output") {
  if (expected.empty()) {
    FAIL_CHECK(what << ": the reference gave no output, so nothing was compared");
    return false;
  }
  return same_outputs(actual, expected, what);
}

/// Runs `op` and `reference` (each: input -> std::vector<Out>) on the same
/// input and compares every output; fails when the reference gives none.
template <class In, class Op, class Ref>
bool differential(const std::vector<In>& input, Op&& op, Ref&& reference, const std::string& what = "output") {
  const auto actual = op(input);
  const auto expected = reference(input);
  return same_nonempty_outputs(actual, expected, what);
}

}  // namespace laminar::test
