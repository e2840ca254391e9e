// 08: user sessions from clicks, and a late click that bridges two sessions.
//
// A session is a burst of one user's clicks: clicks at most 30 s (the gap)
// apart are one session, which ends 30 s after its last click. A click
// exactly 30 s after the previous one still joins its session; one more than
// 30 s later starts a new one. Rows leave when the watermark passes a
// session's end; a click that arrives late (within the allowed lateness) and
// falls between two sessions already emitted merges them: their rows are
// retracted (-D) and the merged session inserted (+I). A click later than
// that goes to the side output.
#include <laminar/laminar.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

using namespace laminar;
using namespace std::chrono_literals;

struct click {
  std::int64_t ts;  // event time, ns
  std::uint32_t user;
  std::string page;
};

int main() {
  constexpr std::int64_t s = 1'000'000'000;
  const std::vector<click> clicks{
      {0 * s, 1, "home"},   {10 * s, 1, "search"}, {12 * s, 2, "home"}, {25 * s, 1, "item"},
      {60 * s, 2, "search"},                       // watermark 55 s: user 1's [0, 55) is emitted
      {70 * s, 1, "home"},  {80 * s, 1, "cart"},   {118 * s, 2, "item"},  // user 1's [70, 110) is emitted
      {50 * s, 1, "help"},                         // late: [50, 80) touches both: they merge into [0, 110)
      {170 * s, 2, "home"},
      {5 * s, 3, "home"},                          // far too late: to the side output
  };

  side_records<click> late;
  using session_row = window_row<std::uint32_t, std::tuple<std::int64_t, std::string, std::string>>;
  auto p = from(clicks) | with_watermarks(&click::ts, bounded_out_of_orderness(5s)) | key_by(&click::user) |
           session(30s)
               .aggregate(aggregates(count(), first(&click::page), last(&click::page)))
               .allowed_lateness(2min)
               .late_to(late) |
           sink([](const session_row& r) {
             const auto& [clicks_in_it, entry, exit] = r.value;
             std::printf("%s user %u [%3lds, %3lds)  %ld clicks, from %s to %s\n", to_string(r.kind), r.key,
                         static_cast<long>(r.start.nanos() / s), static_cast<long>(r.end.nanos() / s),
                         static_cast<long>(clicks_in_it), entry.c_str(), exit.c_str());
           });
  p.run();
  std::printf("late clicks sent to the side output: %lu\n", static_cast<unsigned long>(late.count()));
  return late.count() == 1 ? 0 : 1;
}
