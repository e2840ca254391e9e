// Lookup join: trades enriched from a reference table of instruments, in
// both forms, each against the hand-written loop for the same job.
//
// In-memory trades (fixed seed) over 1000 symbols; the reference data has a
// row for 19 symbols in 20 (the rest are missing: rows with an empty side,
// the join's default left outer policy).
//
// cache hit: `push<trade>() | key_by(symbol) | lookup_join(loader)
// .cache_size(1024) | sink`: the cache holds the whole working set, so after
// the first 1000 trades every lookup is a hit. The hand loop: the classic
// LRU map (std::list of entries, most recent first, and a std::unordered_map
// from key to list node; splice to the front on a hit; on a miss call the
// loader and reuse the oldest node when full) with the same loader.
// table: `connect(trades | key_by, changes | key_by) | lookup_join() |
// sink`: the table is loaded (+I for every listed symbol), then the changelog
// is interleaved with the trades, one change per 16 events: mostly +U (a new
// tick size), one in 32 a -D, a removed symbol listed again (+I) at its next
// change. The hand loop: a std::unordered_map updated (insert_or_assign,
// erase) and looked up in feed order.
//
// Throughput in events/s (trades; for the table form trades + changes),
// medians of 7 interleaved repetitions after a warm-up; the contenders'
// rows are checked against each other by count and a hash of (trade, tick),
// and the loader forms' loader calls by count.
#include <laminar/laminar.hpp>

#include <cstdint>
#include <cstdio>
#include <iterator>
#include <list>
#include <optional>
#include <unordered_map>
#include <vector>

#include "support/bench.hpp"
#include "support/trades.hpp"  // trade, make_trades, splitmix64, fmix

namespace {

namespace lb = laminar::bench;
using lb::fmix;
using lb::trade;

constexpr std::uint32_t symbols = 1000;
constexpr std::size_t cache_entries = 1024;  // the working set fits

struct instrument {
  std::uint32_t symbol;
  std::uint32_t lot;
  std::int64_t tick;  // in 1/10000
};
// A row of the instruments' changelog.
using instrument_change = laminar::change<instrument>;

// The reference data the loader reads: no row for one symbol in 20.
std::vector<std::optional<instrument>> make_reference() {
  std::vector<std::optional<instrument>> ref(symbols);
  for (std::uint32_t s = 0; s < symbols; ++s) {
    if (s % 20 != 19) ref[s] = instrument{s, 100, 1 + s % 50};
  }
  return ref;
}

struct feed_event {
  bool is_trade;
  trade t;
  instrument_change c;
};

std::vector<feed_event> make_feed(const std::vector<trade>& trades, const std::vector<std::optional<instrument>>& ref) {
  lb::splitmix64 rng{11};
  std::vector<feed_event> feed;
  feed.reserve(trades.size() + trades.size() / 15 + symbols);
  std::vector<bool> listed(symbols, false);
  for (std::uint32_t s = 0; s < symbols; ++s) {
    if (!ref[s]) continue;
    feed.push_back({false, {}, {{s, ref[s]->lot, ref[s]->tick}, laminar::change_kind::insert}});
    listed[s] = true;
  }
  std::size_t next_trade = 0;
  for (std::size_t i = 0; next_trade < trades.size(); ++i) {
    if (i % 16 != 15) {
      feed.push_back({true, trades[next_trade++], {}});
      continue;
    }
    const auto s = static_cast<std::uint32_t>(rng.next() % symbols);
    const auto tick = static_cast<std::int64_t>(1 + rng.next() % 100);
    laminar::change_kind kind = laminar::change_kind::update_after;
    if (!listed[s]) {
      kind = laminar::change_kind::insert;
    } else if (rng.next() % 32 == 0) {
      kind = laminar::change_kind::remove;
    }
    listed[s] = kind != laminar::change_kind::remove;
    feed.push_back({false, {}, {{s, 100, tick}, kind}});
  }
  return feed;
}

struct digest {
  std::uint64_t rows = 0;
  std::uint64_t hash = 0;
  std::uint64_t loads = 0;
  void add(const trade& t, std::int64_t tick) {
    ++rows;
    hash += fmix(static_cast<std::uint64_t>(t.ts) * 31 + static_cast<std::uint64_t>(tick));
  }
  friend bool operator==(const digest&, const digest&) = default;
};

// The program's loader: a read of the reference data, counted.
struct loader {
  const std::vector<std::optional<instrument>>* ref;
  std::uint64_t* calls;
  std::optional<instrument> operator()(const std::uint32_t& symbol) const {
    ++*calls;
    return (*ref)[symbol];
  }
};

constexpr auto trade_symbol = laminar::field<&trade::symbol>;
constexpr auto change_symbol = laminar::field<&instrument_change::symbol>;

[[gnu::noinline]] digest laminar_cache(const std::vector<trade>& trades,
                                       const std::vector<std::optional<instrument>>& ref) {
  digest d;
  auto p = laminar::push<trade>() | laminar::key_by(trade_symbol) |
           laminar::lookup_join(loader{&ref, &d.loads}).cache_size(cache_entries) |
           laminar::sink([&d](const laminar::lookup_row<trade, instrument>& r) {
             d.add(r.left, r.right ? r.right->tick : -1);
           });
  for (const trade& t : trades) p.push(t);
  p.finish();
  return d;
}

// The LRU map a desk writes: entries in a list, most recently used first,
// found through a hash map of list nodes.
class hand_lru {
 public:
  explicit hand_lru(std::size_t capacity) : capacity_(capacity) { index_.reserve(capacity); }

  const std::optional<instrument>& get(std::uint32_t key, const loader& load) {
    const auto found = index_.find(key);
    if (found != index_.end()) {
      entries_.splice(entries_.begin(), entries_, found->second);
      return found->second->value;
    }
    if (index_.size() >= capacity_) {  // the least recently used node takes the new key
      const auto oldest = std::prev(entries_.end());
      index_.erase(oldest->key);
      oldest->key = key;
      oldest->value = load(key);
      entries_.splice(entries_.begin(), entries_, oldest);
    } else {
      entries_.push_front({key, load(key)});
    }
    index_.emplace(key, entries_.begin());
    return entries_.front().value;
  }

 private:
  struct entry {
    std::uint32_t key;
    std::optional<instrument> value;
  };
  std::list<entry> entries_;
  std::unordered_map<std::uint32_t, std::list<entry>::iterator> index_;
  std::size_t capacity_;
};

[[gnu::noinline]] digest hand_cache(const std::vector<trade>& trades,
                                    const std::vector<std::optional<instrument>>& ref) {
  digest d;
  const loader load{&ref, &d.loads};
  hand_lru cache(cache_entries);
  for (const trade& t : trades) {
    const std::optional<instrument>& v = cache.get(t.symbol, load);
    d.add(t, v ? v->tick : -1);
  }
  return d;
}

[[gnu::noinline]] digest laminar_table(const std::vector<feed_event>& feed) {
  digest d;
  auto p = laminar::connect(laminar::push<trade>() | laminar::key_by(trade_symbol),
                            laminar::push<instrument_change>() | laminar::key_by(change_symbol)) |
           laminar::lookup_join() | laminar::sink([&d](const laminar::lookup_row<trade, instrument_change>& r) {
             d.add(r.left, r.right ? r.right->tick : -1);
           });
  for (const feed_event& e : feed) {
    if (e.is_trade) {
      p.push_left(e.t);
    } else {
      p.push_right(e.c);
    }
  }
  p.finish();
  return d;
}

[[gnu::noinline]] digest hand_table(const std::vector<feed_event>& feed) {
  digest d;
  std::unordered_map<std::uint32_t, instrument_change> table;
  table.reserve(symbols);
  for (const feed_event& e : feed) {
    if (e.is_trade) {
      const auto found = table.find(e.t.symbol);
      d.add(e.t, found != table.end() ? found->second.tick : -1);
    } else if (laminar::weight_of(e.c.kind) > 0) {
      table.insert_or_assign(e.c.symbol, e.c);
    } else {
      table.erase(e.c.symbol);
    }
  }
  return d;
}

}  // namespace

int main() {
  const std::size_t n = lb::pick<std::size_t>(10'000'000, 200'000);
  const int reps = lb::pick(7, 1);
  const auto trades = lb::make_trades(n, 7, symbols);
  const auto ref = make_reference();
  const auto feed = make_feed(trades, ref);
  std::printf("# lookup join: %zu trades over %u symbols, a %zu-entry cache; table form: %zu events "
              "(trades and changes)%s\n",
              n, symbols, cache_entries, feed.size(), lb::smoke() ? " (smoke run)" : "");

  // The contenders: 0 laminar cache, 1 hand LRU, 2 laminar table, 3 hand map.
  const auto run = [&](int which) {
    switch (which) {
      case 0: return laminar_cache(trades, ref);
      case 1: return hand_cache(trades, ref);
      case 2: return laminar_table(feed);
      default: return hand_table(feed);
    }
  };
  const char* names[] = {"lookup_join(loader).cache_size", "hand LRU", "lookup_join() table", "hand map"};
  const digest want[] = {hand_cache(trades, ref), hand_table(feed)};
  for (int which = 0; which < 4; ++which) {  // warm-up and check
    if (!(run(which) == want[which / 2])) {
      std::fprintf(stderr, "lookup join (%s): the rows or loader calls differ from the hand loop's\n", names[which]);
      return 1;
    }
  }
  std::vector<double> rates[4];
  for (int r = 0; r < reps; ++r) {
    for (int k = 0; k < 4; ++k) {
      const int which = (r + k) % 4;  // who goes first rotates
      lb::stopwatch sw;
      const digest got = run(which);
      const double events = static_cast<double>(which < 2 ? trades.size() : feed.size());
      const double rate = events / sw.elapsed_s();
      if (!(got == want[which / 2])) {
        std::fprintf(stderr, "lookup join (%s): rows differ between contenders\n", names[which]);
        return 1;
      }
      rates[which].push_back(rate);
    }
  }
  const double cache = lb::median(rates[0]), lru = lb::median(rates[1]);
  const double table = lb::median(rates[2]), map = lb::median(rates[3]);
  lb::report("lookup_join_cache_hit_events_per_s", cache, "events/s", 0);
  lb::report("lookup_join_hand_lru_events_per_s", lru, "events/s", 0);
  lb::report("lookup_join_cache_hit_vs_hand_lru", cache / lru, "x", 3);
  lb::report("lookup_join_table_events_per_s", table, "events/s", 0);
  lb::report("lookup_join_hand_map_events_per_s", map, "events/s", 0);
  lb::report("lookup_join_table_vs_hand_map", table / map, "x", 3);
  return 0;
}
