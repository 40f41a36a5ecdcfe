// loadgen.cpp: see loadgen.hpp.
#include "load/loadgen.hpp"

#include <curl/curl.h>
#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "core/files.hpp"
#include "load/engine.hpp"

namespace mtls::load {
namespace {

using Clock = std::chrono::steady_clock;

// Latency histogram: buckets 5 % wide from 1 us to ~100 s; percentiles report a bucket's top.
class Histogram {
 public:
  void add(double us) {
    const int b =
        us <= 1 ? 0
                : std::min(kBuckets - 1, static_cast<int>(std::log(us) / std::log(kGrowth)) + 1);
    ++counts_[b];
    ++total_;
    max_ = std::max(max_, us);
  }
  double percentile(double p) const {
    if (total_ == 0) return 0;
    const auto want = static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(total_)));
    std::uint64_t seen = 0;
    for (int b = 0; b < kBuckets; ++b) {
      seen += counts_[b];
      if (seen >= want) return std::min(max_, std::pow(kGrowth, b));
    }
    return max_;
  }
  double max() const { return max_; }
  void merge(const Histogram& o) {
    for (int b = 0; b < kBuckets; ++b) counts_[b] += o.counts_[b];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }

 private:
  static constexpr int kBuckets = 400;
  static constexpr double kGrowth = 1.05;
  std::uint64_t counts_[kBuckets] = {};
  std::uint64_t total_ = 0;
  double max_ = 0;
};

}  // namespace

std::optional<double> process_cpu_us(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  double utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state, right after ")"
    if (i == 14) utime = std::stod(f);
    if (i == 15) {
      stime = std::stod(f);
      return (utime + stime) * 1e6 / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }
  }
  return std::nullopt;
}

std::string allocator_name() {
  // gperftools' tcmalloc exports tc_version(); glibc's malloc has no such symbol.
  using Version = const char* (*)(int*, int*, const char**);
  if (auto* v = reinterpret_cast<Version>(::dlsym(RTLD_DEFAULT, "tc_version"))) {
    int major = 0, minor = 0;
    const char* patch = nullptr;
    v(&major, &minor, &patch);
    return "tcmalloc " + std::to_string(major) + "." + std::to_string(minor);
  }
  // The sanitizers replace malloc with their own (checking, and slower).
  if (::dlsym(RTLD_DEFAULT, "__asan_init") || ::dlsym(RTLD_DEFAULT, "__tsan_init"))
    return "sanitizer";
  return "glibc";
}

namespace {

// CPU time (us) of this process (RUSAGE_SELF) or of the calling thread (RUSAGE_THREAD).
double cpu_us(int who) {
  rusage u{};
  ::getrusage(who, &u);
  return u.ru_utime.tv_sec * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_sec * 1e6 +
         u.ru_stime.tv_usec;
}

struct Stats {
  std::uint64_t handshakes = 0;
  std::map<std::string, std::uint64_t> errors;
  std::map<std::string, std::uint64_t> statuses;  // HTTP status of the answered ones
  Histogram latency;
  double wall_s = 0, server_cpu_us = 0, generator_cpu_us = 0;
  bool server_cpu_known = true;

  void merge(const Stats& o) {
    handshakes += o.handshakes;
    for (const auto& [k, v] : o.errors) errors[k] += v;
    for (const auto& [k, v] : o.statuses) statuses[k] += v;
    latency.merge(o.latency);
  }
};

// One generator worker: its engine, its share of the connections, its own figures.
struct Worker {
  std::unique_ptr<Engine> engine;
  unsigned concurrency = 1;
  std::vector<Stats> stats;  // per target
  std::uint64_t slice_handshakes = 0;
  double cpu_us = 0;  // its thread's CPU over the run
};

// What every worker does in the slice the coordinator set.
struct SliceOrder {
  std::size_t target = 0;
  Clock::time_point end;
  bool stop = false;
};

// Starts and drives connections to `target` until `end`, then drains them.
void run_slice(Worker& w, std::size_t target, Clock::time_point end,
               std::atomic<std::uint64_t>& total, std::uint64_t max_handshakes) {
  const double cpu0 = cpu_us(RUSAGE_THREAD);
  Stats& st = w.stats[target];
  w.slice_handshakes = 0;
  for (;;) {
    while (Clock::now() < end && w.engine->in_flight() < w.concurrency &&
           total.load(std::memory_order_relaxed) + w.engine->in_flight() < max_handshakes)
      w.engine->start(target);
    if (w.engine->in_flight() == 0) break;  // the slice is over and drained
    for (const auto& f : w.engine->step(std::chrono::milliseconds(50))) {
      if (f.answered) {  // the server answered: this handshake counts
        ++st.handshakes;
        ++w.slice_handshakes;
        total.fetch_add(1, std::memory_order_relaxed);
        st.latency.add(f.latency_us);
        ++st.statuses[std::to_string(f.status)];
      } else {
        ++st.errors[f.outcome];
      }
    }
  }
  w.cpu_us += cpu_us(RUSAGE_THREAD) - cpu0;
}

std::vector<Worker> make_workers(const LoadOptions& o) {
  std::vector<EngineTarget> engine_targets;
  for (const auto& t : o.targets) engine_targets.push_back({t.url, t.credential, t.resume});
  std::vector<Worker> workers(o.workers);
  for (unsigned i = 0; i < o.workers; ++i) {
    workers[i].engine = make_engine(o.client, engine_targets, o.trust, o.resume);
    workers[i].concurrency = o.concurrency / o.workers + (i < o.concurrency % o.workers ? 1 : 0);
    workers[i].stats.resize(o.targets.size());
  }
  return workers;
}

nlohmann::json target_json(const LoadTarget& t, const Stats& st, bool server_known) {
  const double hs = static_cast<double>(std::max<std::uint64_t>(st.handshakes, 1));
  return {{"name", t.name},
          {"url", t.url},
          {"resume", t.resume},
          {"handshakes", st.handshakes},
          {"seconds", st.wall_s},
          {"handshakes_per_second", st.wall_s > 0 ? st.handshakes / st.wall_s : 0.0},
          {"generator_cpu_us_per_handshake", st.generator_cpu_us / hs},
          {"server_cpu_us_per_handshake", server_known && st.server_cpu_known
                                              ? nlohmann::json(st.server_cpu_us / hs)
                                              : nlohmann::json(nullptr)},
          {"latency_ms",
           {{"p50", st.latency.percentile(0.50) / 1000},
            {"p90", st.latency.percentile(0.90) / 1000},
            {"p99", st.latency.percentile(0.99) / 1000},
            {"max", st.latency.max() / 1000}}},
          {"errors", st.errors},
          {"http_statuses", st.statuses}};
}

}  // namespace

nlohmann::json run_load(const LoadOptions& o) {
  if (o.targets.empty()) throw InputError("bench: no target");
  if (o.concurrency == 0 || o.concurrency > 1000)
    throw InputError("--concurrency: must be 1..1000");
  if (o.workers == 0 || o.workers > 64 || o.workers > o.concurrency)
    throw InputError("--workers " + std::to_string(o.workers) +
                     ": must be 1..64 and at most --concurrency");
  if (o.duration.count() <= 0 || o.duration > std::chrono::minutes(10))
    throw InputError("--duration: must be more than 0 and at most 600 seconds");
  std::vector<Worker> workers = make_workers(o);
  std::vector<Stats> stats(o.targets.size());  // the slices' wall and CPU figures
  nlohmann::json slices = nlohmann::json::array();
  std::atomic<std::uint64_t> total{0};
  SliceOrder order;
  std::barrier sync(static_cast<std::ptrdiff_t>(o.workers + 1));
  std::vector<std::jthread> threads;
  for (auto& w : workers)
    threads.emplace_back([&, wp = &w] {
      for (;;) {
        sync.arrive_and_wait();  // the order is set
        if (order.stop) return;
        run_slice(*wp, order.target, order.end, total, o.max_handshakes);
        sync.arrive_and_wait();  // every worker drained
      }
    });
  const auto run_start = Clock::now();
  double generator_cpu = 0, wall = 0;
  for (std::size_t slice = 0; Clock::now() - run_start < o.duration && total < o.max_handshakes;
       ++slice) {
    const std::size_t ti = slice % o.targets.size();
    Stats& st = stats[ti];
    const auto slice_start = Clock::now();
    order.target = ti;
    order.end = std::min(slice_start + o.slice, run_start + o.duration);
    const auto server0 = o.server_pid ? process_cpu_us(*o.server_pid) : std::nullopt;
    const double self0 = cpu_us(RUSAGE_SELF);
    sync.arrive_and_wait();  // go
    sync.arrive_and_wait();  // done
    const double seconds = std::chrono::duration<double>(Clock::now() - slice_start).count();
    std::uint64_t slice_handshakes = 0;
    for (const auto& w : workers) slice_handshakes += w.slice_handshakes;
    st.wall_s += seconds;
    st.generator_cpu_us += cpu_us(RUSAGE_SELF) - self0;
    generator_cpu += cpu_us(RUSAGE_SELF) - self0;
    wall += seconds;
    const auto server1 = o.server_pid ? process_cpu_us(*o.server_pid) : std::nullopt;
    if (server0 && server1)
      st.server_cpu_us += *server1 - *server0;
    else
      st.server_cpu_known = false;
    if (o.on_slice)
      o.on_slice(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - run_start).count(),
          total);
    slices.push_back({{"target", o.targets[ti].name},
                      {"t_s", std::chrono::duration<double>(slice_start - run_start).count()},
                      {"seconds", seconds},
                      {"handshakes_per_second", slice_handshakes / seconds}});
  }
  order.stop = true;
  sync.arrive_and_wait();
  threads.clear();  // joined
  nlohmann::json targets = nlohmann::json::array();
  nlohmann::json chart = {{"title", "server CPU per handshake"}, {"rows", nlohmann::json::array()}};
  for (std::size_t i = 0; i < o.targets.size(); ++i) {
    for (const auto& w : workers) stats[i].merge(w.stats[i]);
    nlohmann::json t = target_json(o.targets[i], stats[i], o.server_pid.has_value());
    if (!t["server_cpu_us_per_handshake"].is_null())
      chart["rows"].push_back({{"label", o.targets[i].name},
                               {"value", t["server_cpu_us_per_handshake"]},
                               {"unit", "us"}});
    targets.push_back(t);
  }
  nlohmann::json per_worker = nlohmann::json::array(), warnings = nlohmann::json::array();
  for (const auto& w : workers)
    per_worker.push_back({{"concurrency", w.concurrency}, {"cpu_us", w.cpu_us}});
  // The generator's CPU against what its workers can use (one core each, at most the machine's).
  const unsigned cores =
      std::min<unsigned>(o.workers, std::max<long>(1, ::sysconf(_SC_NPROCESSORS_ONLN)));
  const double busy = wall > 0 ? generator_cpu / (wall * 1e6 * cores) : 0;
  if (busy > 0.8)
    warnings.push_back("the generator used " + std::to_string(static_cast<int>(busy * 100)) +
                       " % of its " + std::to_string(cores) +
                       " core(s): it may be the bottleneck it measures (more --workers, or run it "
                       "on another machine)");
  return {
      {"settings",
       {{"concurrency", o.concurrency},
        {"workers", o.workers},
        {"client", o.client},
        {"duration_s", o.duration.count() / 1000.0},
        {"slice_s", o.slice.count() / 1000.0},
        {"resume", o.resume},
        {"allocator", allocator_name()},
        {"server_pid", o.server_pid ? nlohmann::json(*o.server_pid) : nlohmann::json(nullptr)}}},
      {"targets", targets},
      {"slices", slices},
      {"generator", {{"cpu_share_of_its_cores", busy}, {"workers", per_worker}}},
      {"warnings", warnings},
      {"chart", chart}};
}

}  // namespace mtls::load
