#include "sync/syncer.hpp"

#include "core/error.hpp"
#include "sync/array_splitter.hpp"
#include "sync/hydra_json.hpp"

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

namespace hs::sync {

bool SyncSummary::all_ok() const {
    return std::all_of(jobsets.begin(), jobsets.end(), [](const auto& j) { return j.ok; });
}

std::string_view method_name(FetchMethod method) {
    return method == FetchMethod::by_id ? "by-id" : "eval-builds";
}

FetchCost fetch_cost(FetchMethod method, size_t to_fetch, size_t members) {
    const auto n = static_cast<double>(to_fetch);
    const auto m = static_cast<double>(members);
    if (method == FetchMethod::by_id) {
        return {n * (1 + k_request_overhead_objects), n * (k_build_object_bytes + k_request_bytes),
                n};
    }
    return {m + k_request_overhead_objects, m * k_build_object_bytes + k_request_bytes, 1};
}

FetchMethod choose_method(size_t to_fetch, size_t members, size_t by_id_max,
                          bool eval_builds_usable) {
    if (to_fetch == 0 || !eval_builds_usable) {
        return FetchMethod::by_id;
    }
    if (to_fetch > by_id_max) {
        return FetchMethod::eval_builds;
    }
    const bool cheaper = fetch_cost(FetchMethod::by_id, to_fetch, members) <
                         fetch_cost(FetchMethod::eval_builds, to_fetch, members);
    return cheaper ? FetchMethod::by_id : FetchMethod::eval_builds;
}

bool eval_builds_usable(const index::JobsetState& state, size_t members, int64_t now,
                        int64_t retry) {
    if (!state.eval_builds_failed_at || *state.eval_builds_failed_at + retry <= now) {
        return true;
    }
    return static_cast<int64_t>(members) < state.eval_builds_failed_members.value_or(0);
}

RecheckPlan plan_recheck(const std::vector<int64_t>& pending, const std::vector<EvalCover>& evals,
                         std::optional<int64_t> due_eval, size_t by_id_max) {
    RecheckPlan plan;
    std::unordered_set<int64_t> remaining(pending.begin(), pending.end());
    std::vector<bool> chosen(evals.size(), false);
    const auto take = [&](size_t i) {
        chosen[i] = true;
        plan.whole_evals.push_back(evals[i].eval_id);
        for (const int64_t id : evals[i].pending) {
            remaining.erase(id);
        }
    };
    if (due_eval) {
        const auto it = std::find_if(evals.begin(), evals.end(),
                                     [&](const EvalCover& e) { return e.eval_id == *due_eval; });
        if (it != evals.end()) {
            take(static_cast<size_t>(it - evals.begin()));
        } else {
            plan.whole_evals.push_back(*due_eval);
        }
    }
    while (!remaining.empty()) {
        std::optional<size_t> best;
        size_t best_count = 0;
        for (size_t i = 0; i < evals.size(); ++i) {
            if (chosen[i]) {
                continue;
            }
            const auto count = static_cast<size_t>(
                std::count_if(evals[i].pending.begin(), evals[i].pending.end(),
                              [&](int64_t id) { return remaining.contains(id); }));
            if (count > best_count &&
                choose_method(count, evals[i].members, by_id_max) == FetchMethod::eval_builds) {
                best = i;
                best_count = count;
            }
        }
        if (!best) {
            break;
        }
        take(*best);
    }
    plan.by_id.assign(remaining.begin(), remaining.end());
    std::sort(plan.by_id.begin(), plan.by_id.end());
    return plan;
}

bool use_latest_builds(size_t pending, uint64_t newer) {
    if (pending == 0 || newer > k_latest_max) {
        return false;
    }
    // newer * 1/4 + 1 < pending * 2, in integers.
    return newer + 4 < 8 * static_cast<uint64_t>(pending);
}

LatestVerdict judge_latest(const std::vector<int64_t>& pending,
                           const std::vector<LatestBuild>& answer, uint64_t nr) {
    LatestVerdict verdict;
    std::unordered_set<int64_t> finished;
    int64_t oldest = std::numeric_limits<int64_t>::max();
    for (const auto& build : answer) {
        if (build.finished) {
            finished.insert(build.id);
        }
        oldest = std::min(oldest, build.id);
    }
    // A full answer may have left out finished builds older than its
    // oldest; a shorter one listed every finished build of the jobset.
    const bool full = answer.size() >= nr;
    for (const int64_t id : pending) {
        if (finished.contains(id)) {
            verdict.finished.push_back(id);
        } else if (full && id < oldest) {
            verdict.uncovered.push_back(id);
        }
    }
    return verdict;
}

bool budget_stops(uint64_t requests, uint64_t budget, uint64_t steps_done) {
    return steps_done > 0 && requests >= budget;
}

uint64_t request_cap(uint64_t budget, int max_tries) {
    constexpr uint64_t k_max = std::numeric_limits<uint64_t>::max();
    constexpr uint64_t k_listing_room = 1000; // 20,000 evals of listings
    const uint64_t tries = static_cast<uint64_t>(std::max(max_tries, 1));
    const uint64_t step = (k_by_id_batch + 1) * tries;
    if (budget > k_max - step - k_listing_room) {
        return k_max;
    }
    return budget + step + k_listing_room;
}

bool is_page_query(std::string_view next) {
    constexpr std::string_view prefix = "?page=";
    if (!next.starts_with(prefix) || next.size() == prefix.size() || next.size() > 20) {
        return false;
    }
    return std::all_of(next.begin() + static_cast<ptrdiff_t>(prefix.size()), next.end(),
                       [](char c) { return c >= '0' && c <= '9'; });
}

namespace {

// How one step of a jobset's sync ended.
enum class Step { ok, failed, stopped };

// Sets of build ids (an eval's members, the builds fetched in a run) are
// sorted vectors without repeats: at a 250,000-build eval 2 MB, where a
// std::set takes 12 MB and more time to fill.
void sort_unique(std::vector<int64_t>& ids) {
    if (!std::is_sorted(ids.begin(), ids.end())) {
        std::sort(ids.begin(), ids.end());
    }
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

// Adds `more` (any order, repeats allowed) to the sorted set `ids`.
void merge_ids(std::vector<int64_t>& ids, std::vector<int64_t> more) {
    sort_unique(more);
    if (ids.empty()) {
        ids = std::move(more);
        return;
    }
    const auto middle = static_cast<ptrdiff_t>(ids.size());
    ids.insert(ids.end(), more.begin(), more.end());
    std::inplace_merge(ids.begin(), ids.begin() + middle, ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

bool contains(const std::vector<int64_t>& sorted_ids, int64_t id) {
    return std::binary_search(sorted_ids.begin(), sorted_ids.end(), id);
}

} // namespace

// One thread that runs one job at a time, handed over by the thread that
// owns it: start() when idle, wait() for the job to end (rethrowing what it
// threw). Started at the first job, joined by the destructor.
// A job starts k_gap after the one before ended at the earliest: a batch
// transaction begun right after the last one's commit would leave a
// `record` or `forget` waiting for the lock no moment to take it
// (Database tries every millisecond). ~30 gaps for 250,000 builds.
class BuildStager::Writer {
public:
    Writer() = default;
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    ~Writer() {
        {
            const std::lock_guard lock(m_mutex);
            m_quit = true;
        }
        m_wake.notify_all();
        if (m_thread.joinable()) {
            m_thread.join(); // after the job in hand, if any
        }
    }

    void start(std::function<void()> job) {
        if (!m_thread.joinable()) {
            m_thread = std::thread([this] { run(); });
        }
        {
            const std::lock_guard lock(m_mutex);
            m_job = std::move(job);
            m_busy = true;
        }
        m_wake.notify_all();
    }

    void wait() {
        std::unique_lock lock(m_mutex);
        m_wake.wait(lock, [this] { return !m_busy; });
        if (m_thrown) {
            std::rethrow_exception(std::exchange(m_thrown, nullptr));
        }
    }

private:
    void run() {
        std::unique_lock lock(m_mutex);
        for (;;) {
            m_wake.wait(lock, [this] { return m_busy || m_quit; });
            if (!m_busy) {
                return;
            }
            auto job = std::move(m_job);
            lock.unlock();
            std::this_thread::sleep_until(m_ended + k_gap);
            std::exception_ptr thrown;
            try {
                job();
            } catch (...) { // handed to the owner by wait()
                thrown = std::current_exception();
            }
            m_ended = std::chrono::steady_clock::now();
            lock.lock();
            m_thrown = thrown;
            m_busy = false;
            m_wake.notify_all();
        }
    }

    static constexpr std::chrono::milliseconds k_gap{10};
    std::chrono::steady_clock::time_point m_ended; // of the last job (this thread's)
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::function<void()> m_job;
    bool m_busy = false;
    bool m_quit = false;
    std::exception_ptr m_thrown;
    std::thread m_thread;
};

BuildStager::BuildStager(JsonParser& parser, BatchLimits limits, WriteBatch write_batch,
                         OnBuild on_build)
    : m_parser(parser), m_limits(limits), m_write_batch(std::move(write_batch)),
      m_on_build(std::move(on_build)),
      m_splitter([this](std::string_view element) { return on_element(element); }),
      m_writer(std::make_unique<Writer>()) {}

BuildStager::~BuildStager() = default;

void BuildStager::reset() {
    settle(); // a batch of the failed try may still be being written
    m_splitter.reset();
    m_staged_count = 0;
    m_staged_bytes = 0;
    m_error.clear();
    m_builds = 0;
    m_batches = 0;
    m_ids.clear();
}

bool BuildStager::write(std::string_view chunk) {
    if (!m_splitter.feed(chunk)) {
        if (m_error.empty()) {
            m_error = m_splitter.error();
        }
        return false;
    }
    return true;
}

bool BuildStager::finish() {
    if (!m_splitter.finish()) {
        m_error = m_splitter.error();
        return false;
    }
    return flush() && settle();
}

bool BuildStager::settle() {
    if (m_writing_count == 0) {
        return true;
    }
    m_writer->wait();
    const size_t count = std::exchange(m_writing_count, 0);
    if (!m_written) {
        m_error = "elements " + std::to_string(m_writing_last - count + 1) + "-" +
                  std::to_string(m_writing_last) + " not written: " + m_written.error();
        return false;
    }
    ++m_batches;
    return true;
}

std::vector<int64_t> BuildStager::take_ids() {
    sort_unique(m_ids);
    return std::move(m_ids);
}

bool BuildStager::on_element(std::string_view element) {
    if (m_staged_count == m_staged.size()) {
        m_staged.emplace_back();
    }
    core::BuildRecord& record = m_staged[m_staged_count];
    m_error = m_parser.parse_build(element, record);
    if (m_error.empty()) {
        if (auto checked = index::IndexWriter::check_build(record); !checked) {
            m_error = checked.error();
        }
    }
    if (!m_error.empty()) {
        m_error = "element " + std::to_string(m_builds + 1) + ": " + m_error;
        return false;
    }
    m_ids.push_back(record.id);
    ++m_staged_count;
    m_staged_bytes += element.size();
    ++m_builds;
    if (m_on_build) {
        m_on_build(m_builds);
    }
    const bool full =
        m_staged_count >= std::max<size_t>(m_limits.builds, 1) || m_staged_bytes >= m_limits.bytes;
    return !full || flush();
}

// Hands the staged batch to the writer thread, once it is done with the
// one before; the records it wrote are staged into next.
bool BuildStager::flush() {
    if (!settle()) {
        return false;
    }
    if (m_staged_count == 0) {
        return true;
    }
    m_staged.swap(m_writing);
    m_writing_count = std::exchange(m_staged_count, 0);
    m_writing_last = m_builds;
    m_staged_bytes = 0;
    m_writer->start([this] { m_written = m_write_batch({m_writing.data(), m_writing_count}); });
    return true;
}

std::string evals_url(const std::string& base, const std::string& project,
                      const std::string& jobset) {
    return base + "/jobset/" + project + "/" + jobset + "/evals";
}

std::string eval_url(const std::string& base, int64_t eval_id) {
    return base + "/eval/" + std::to_string(eval_id);
}

std::string latest_builds_url(const std::string& base, const std::string& project,
                              const std::string& jobset, uint64_t nr) {
    return base + "/api/latestbuilds?nr=" + std::to_string(nr) + "&project=" + project +
           "&jobset=" + jobset;
}

std::string eval_builds_url(const std::string& base, int64_t eval_id) {
    return base + "/eval/" + std::to_string(eval_id) + "/builds";
}

std::string build_url(const std::string& base, int64_t build_id) {
    return base + "/build/" + std::to_string(build_id);
}

FetchResult HttpSource::evals_page(const std::string& project, const std::string& jobset,
                                   const std::string& query, BodySink& sink,
                                   const Validators& conditional) {
    return m_http.get_json(evals_url(m_base, project, jobset) + query, sink, conditional);
}

FetchResult HttpSource::eval_builds(int64_t eval_id, BodySink& sink) {
    return m_http.get_json(eval_builds_url(m_base, eval_id), sink, {},
                           Retries::unless_server_gave_up);
}

FetchResult HttpSource::build(int64_t build_id, BodySink& sink) {
    return m_http.get_json(build_url(m_base, build_id), sink);
}

FetchResult HttpSource::evals_html_page(const std::string& project, const std::string& jobset,
                                        const std::string& query, BodySink& sink) {
    return m_http.get_html(evals_url(m_base, project, jobset) + query, sink);
}

FetchResult HttpSource::eval(int64_t eval_id, BodySink& sink) {
    return m_http.get_json(eval_url(m_base, eval_id), sink);
}

FetchResult HttpSource::latest_builds(const std::string& project, const std::string& jobset,
                                      uint64_t nr, BodySink& sink) {
    return m_http.get_json(latest_builds_url(m_base, project, jobset, nr), sink);
}

namespace {

// A page of the listing as HTML is tens of KB (20 rows of ~1 KB, ~8 KB
// around them); a much larger answer is not Hydra's page.
constexpr uint64_t k_max_html_bytes = 8ULL << 20;

// Run-wide counters shared by the jobsets of one run.
struct RunState {
    uint64_t steps_done = 0; // evals and re-check steps committed
    StopReason stopped = StopReason::none;
};

// What every jobset of one run works with.
struct RunContext {
    index::IndexWriter& index;
    HydraSource& source;
    JsonParser& parser;
    const SyncOptions& options;
    SyncObserver& observer;
    RunState& run;
};

// What an eval's fetch brought, before it is committed (ingest_eval).
struct EvalFetch {
    FetchMethod method = FetchMethod::by_id;
    std::vector<int64_t> to_fetch;          // its members unknown or unfinished
    uint64_t by_id_builds = 0;              // by-id: builds fetched (written batch by batch)
    std::vector<int64_t> streamed;          // eval-builds: the ids streamed, sorted
    uint64_t streamed_builds = 0;           // eval-builds: elements streamed
    std::vector<int64_t> by_id;             // eval-builds: members it lacked, asked by id
    std::vector<core::BuildRecord> records; // those, written with the eval
};

class JobsetSync {
public:
    JobsetSync(const RunContext& context, const std::string& project, const std::string& jobset)
        : m_index(context.index), m_source(context.source), m_parser(context.parser),
          m_options(context.options), m_observer(context.observer), m_run(context.run),
          m_name(project + ":" + jobset) {
        m_state = m_index.reader().find_jobset(redact_url(m_options.url), project, jobset);
        m_outcome.jobset = m_name;
    }

    JobsetOutcome run() {
        const uint64_t requests = m_source.requests();
        const uint64_t bytes = m_source.bytes();
        const Step step = sync();
        if (step == Step::stopped && m_run.stopped == StopReason::none) {
            m_run.stopped = m_source.budget_spent() ? StopReason::budget : StopReason::signal;
        }
        m_outcome.completed = step == Step::ok;
        m_outcome.requests = m_source.requests() - requests;
        m_outcome.bytes = m_source.bytes() - bytes;
        m_observer.on_jobset_done(m_outcome);
        return m_outcome;
    }

private:
    Step sync() {
        std::vector<core::EvalRecord> evals;
        if (const Step s = new_evals(evals); s != Step::ok) {
            return s;
        }
        m_observer.on_jobset_start(m_name, evals.size());
        std::vector<int64_t> fetched; // sorted
        for (size_t i = 0; i < evals.size(); ++i) {
            if (const Step s = before_step(); s != Step::ok) {
                return s;
            }
            if (const Step s = read_members(evals[i]); s != Step::ok) {
                return s;
            }
            if (const Step s = ingest_eval(evals[i], i, evals.size(), fetched); s != Step::ok) {
                return s;
            }
        }
        if (const Step s = recheck(fetched); s != Step::ok) {
            return s;
        }
        return in_transaction([this] {
            m_state.synced_at = m_options.now;
            m_state.etag = m_validators.etag;
            m_state.last_modified = m_validators.last_modified;
            m_state.listing_digest = m_probed ? listing_digest(m_rows) : std::string();
            return Step::ok;
        });
    }

    // Whether the run goes on with another step (budget, stop request).
    Step before_step() {
        if (m_options.stop != nullptr && m_options.stop->load()) {
            m_run.stopped = StopReason::signal;
            return Step::stopped;
        }
        if (budget_stops(m_source.requests(), m_options.max_requests, m_run.steps_done)) {
            m_run.stopped = StopReason::budget;
            return Step::stopped;
        }
        return Step::ok;
    }

    // What a transaction writes besides what its body writes.
    enum class Writes { builds, state };

    // Runs body inside one short write transaction, creating the jobset's
    // row first if needed; with Writes::state the jobset's state is written
    // too. body writes only what is already in memory: no write transaction
    // ever waits on the network, so that `record` and `forget` never wait
    // for a sync for long (BEGIN IMMEDIATE and SQLite's busy timeout make
    // the sync wait its turn when they hold the lock). A failed body rolls
    // everything back, the in-memory state included.
    Step in_transaction(const std::function<Step()>& body, Writes writes = Writes::state) {
        const index::JobsetState saved = m_state;
        auto txn = m_index.transaction();
        if (m_state.id == 0) {
            // Credentials are for requests only: the index (and so every
            // build URL printed from it) keeps the URL without them.
            const auto row =
                m_index.jobset(redact_url(m_options.url), m_state.project, m_state.name);
            m_state.id = row.id;
            m_state.instance = row.instance;
        }
        const Step step = body();
        if (step != Step::ok) {
            m_state = saved;
            return step; // txn rolls back, and the index forgets what it cached
        }
        if (writes == Writes::state) {
            m_index.set_jobset_state(m_state);
        }
        txn.commit();
        return Step::ok;
    }

    Step fail(std::string message, Failure failure = Failure::none) {
        m_outcome.ok = false;
        m_outcome.failure = failure;
        m_outcome.error = std::move(message);
        return Step::failed;
    }

    // Maps a failed fetch to a step, with the message for the jobset.
    Step failed_fetch(const FetchResult& result, const std::string& context = {}) {
        if (result.failure == Failure::cancelled) {
            return Step::stopped;
        }
        return fail(context + result.message, result.failure);
    }

    // For messages: a URL of this jobset's instance, without credentials.
    std::string shown_evals_url(const std::string& query) const {
        return redact_url(evals_url(m_options.url, m_state.project, m_state.name) + query);
    }

    // --- new evals ------------------------------------------------------

    // The evals to ingest, oldest first: on a first sync the newest
    // max_evals; later every eval newer than the newest one ingested. Read
    // from the listing as HTML (probe_evals) when Hydra serves it, else
    // from the JSON listing (listed_evals).
    Step new_evals(std::vector<core::EvalRecord>& out) {
        bool probed = false;
        if (const Step s = probe_evals(out, probed); s != Step::ok || probed) {
            if (s == Step::ok) {
                m_listing_unchanged =
                    out.empty() && listing_digest(m_rows) == m_state.listing_digest;
            }
            return s;
        }
        return listed_evals(out);
    }

    // The evals to ingest from the listing read as HTML: page 1, and the
    // next page only while every eval on a page is new and more are wanted
    // (as listed_evals). They come with ids only: read_members() reads each
    // one's members (GET /eval/<id>) right before it is ingested. When the
    // page is not Hydra's (a bot filter's page, an error page, a changed
    // template, or no eval where the index has some) `probed` stays false
    // and a warning says that the JSON listing is read instead; a jobset
    // Hydra does not have (404) is left to the JSON listing to report.
    Step probe_evals(std::vector<core::EvalRecord>& out, bool& probed) {
        const bool first_sync = !m_state.newest_eval.has_value();
        const int64_t newest = m_state.newest_eval.value_or(0);
        std::set<int64_t> seen;
        for (int page = 1;; ++page) {
            const std::string query = page == 1 ? "" : "?page=" + std::to_string(page);
            EvalsHtmlPage parsed;
            std::string why;
            if (const Step s = read_evals_html(query, parsed, why); s != Step::ok) {
                return s;
            }
            if (!why.empty()) {
                out.clear();
                m_rows.clear();
                return Step::ok;
            }
            if (page == 1) {
                m_rows = parsed.rows;
            }
            bool reached_known = false;
            for (const auto& row : parsed.rows) {
                if (row.id <= newest) {
                    reached_known = true;
                    continue;
                }
                if (!seen.insert(row.id).second ||
                    m_index.reader().has_eval(m_state.instance, row.id)) {
                    continue; // offset paging repeats an entry when a new eval arrives
                }
                core::EvalRecord eval;
                eval.id = row.id;
                eval.timestamp = row.timestamp;
                out.push_back(std::move(eval));
            }
            const bool enough =
                first_sync && out.size() >= static_cast<size_t>(m_options.max_evals);
            if (reached_known || enough || !parsed.has_next() || parsed.rows.empty()) {
                break;
            }
        }
        keep_newest(out, first_sync);
        m_probed = probed = true;
        return Step::ok;
    }

    // One page of the listing as HTML into `parsed`; `why` says why it is
    // not usable (after the warning), empty when it is.
    Step read_evals_html(const std::string& query, EvalsHtmlPage& parsed, std::string& why) {
        StringSink sink(k_max_html_bytes);
        const auto result = m_source.evals_html_page(m_state.project, m_state.name, query, sink);
        if (!result.ok()) {
            if (result.failure == Failure::cancelled || result.failure == Failure::transient) {
                return failed_fetch(result);
            }
            why = result.message;
            if (result.failure == Failure::not_found) {
                return Step::ok; // the JSON listing says that the jobset does not exist
            }
        } else {
            if (auto page = parse_evals_html(sink.body())) {
                parsed = std::move(*page);
            } else {
                why = page.error();
            }
            if (why.empty() && query.empty() && parsed.rows.empty() && m_state.newest_eval) {
                why = "no evals listed";
            }
            for (const auto& row : parsed.rows) {
                if (why.empty() && row.id > index::k_id_mask) {
                    why = "eval id " + std::to_string(row.id) + " out of range";
                }
            }
            if (!why.empty()) {
                why = "'" + shown_evals_url(query) + "': " + why;
            }
        }
        if (!why.empty()) {
            m_observer.on_warning(m_name + ": the evals listing as HTML is not Hydra's page (" +
                                  why + "); reading the JSON listing instead");
        }
        return Step::ok;
    }

    // An eval the HTML listing named: its members, from GET /eval/<id>
    // (one eval's ids, ~2.5 MB at 250,000 builds, where the JSON listing
    // sends 20 evals' ids). Evals from the JSON listing have them already.
    Step read_members(core::EvalRecord& eval) {
        if (!m_probed) {
            return Step::ok;
        }
        const std::string context = "eval " + std::to_string(eval.id) + ": ";
        StringSink sink;
        const auto result = m_source.eval(eval.id, sink);
        if (!result.ok()) {
            return failed_fetch(result, context);
        }
        core::EvalRecord got;
        const std::string shown = "'" + redact_url(eval_url(m_options.url, eval.id)) + "': ";
        if (auto why = m_parser.parse_eval(sink.body(), got); !why.empty()) {
            return fail(context + shown + why, Failure::malformed);
        }
        if (got.id != eval.id) {
            return fail(context + shown + "answered eval " + std::to_string(got.id),
                        Failure::malformed);
        }
        eval = std::move(got);
        return Step::ok;
    }

    // The evals to ingest from the JSON listing (see new_evals). The first
    // page is asked for conditionally when the last complete sync got
    // validators with it; a 304 means nothing new.
    Step listed_evals(std::vector<core::EvalRecord>& out) {
        const bool first_sync = !m_state.newest_eval.has_value();
        std::set<int64_t> seen;
        std::string query;
        for (int page = 1;; ++page) {
            core::EvalsPage parsed;
            bool not_modified = false;
            if (const Step s = read_evals_page(page, query, parsed, not_modified);
                s != Step::ok || not_modified) {
                return s;
            }
            bool reached_known = false;
            if (const Step s = collect_new_evals(parsed, query, seen, out, reached_known);
                s != Step::ok) {
                return s;
            }
            const bool enough =
                first_sync && out.size() >= static_cast<size_t>(m_options.max_evals);
            if (reached_known || enough || !parsed.next || parsed.evals.empty()) {
                break;
            }
            if (!is_page_query(*parsed.next)) {
                return fail("'" + shown_evals_url(query) + "': unexpected 'next' value " +
                                quote(*parsed.next),
                            Failure::malformed);
            }
            query = *parsed.next;
        }
        keep_newest(out, first_sync);
        return Step::ok;
    }

    // Reads one page of the evals listing into `parsed` (see new_evals);
    // a 304 answer sets not_modified, and the validators to keep.
    Step read_evals_page(int page, const std::string& query, core::EvalsPage& parsed,
                         bool& not_modified) {
        const bool first_sync = !m_state.newest_eval.has_value();
        StringSink sink;
        const Validators validators = page == 1 && !first_sync
                                          ? Validators{m_state.etag, m_state.last_modified}
                                          : Validators{};
        const auto result =
            m_source.evals_page(m_state.project, m_state.name, query, sink, validators);
        if (!result.ok()) {
            if (result.failure == Failure::not_found && page == 1) {
                return fail("jobset " + m_name + " does not exist on " + redact_url(m_options.url) +
                                " (" + result.message + ")",
                            result.failure);
            }
            return failed_fetch(result);
        }
        if (result.not_modified) {
            m_outcome.not_modified = not_modified = true;
            m_validators = result.validators.empty() ? validators : result.validators;
            return Step::ok;
        }
        if (page == 1) {
            m_validators = result.validators;
        }
        if (auto why = m_parser.parse_evals_page(sink.body(), parsed); !why.empty()) {
            return fail("'" + shown_evals_url(query) + "': " + why, Failure::malformed);
        }
        return Step::ok;
    }

    // Adds the page's evals that are new to `out`; reached_known is set when
    // the page reaches the newest eval ingested (listings are newest first).
    Step collect_new_evals(core::EvalsPage& parsed, const std::string& query,
                           std::set<int64_t>& seen, std::vector<core::EvalRecord>& out,
                           bool& reached_known) {
        const int64_t newest = m_state.newest_eval.value_or(0);
        for (auto& eval : parsed.evals) {
            if (eval.id <= 0 || eval.id > index::k_id_mask) {
                return fail("'" + shown_evals_url(query) + "': eval id " + std::to_string(eval.id) +
                                " out of range",
                            Failure::malformed);
            }
            if (eval.id <= newest) {
                reached_known = true;
                continue;
            }
            if (!seen.insert(eval.id).second) {
                continue; // offset paging repeats an entry when a new eval arrives
            }
            if (m_index.reader().has_eval(m_state.instance, eval.id)) {
                continue;
            }
            out.push_back(std::move(eval));
        }
        return Step::ok;
    }

    // Keeps the evals newest first up to max_evals on a first sync, then
    // puts them oldest first.
    void keep_newest(std::vector<core::EvalRecord>& evals, bool first_sync) const {
        std::sort(evals.begin(), evals.end(),
                  [](const auto& a, const auto& b) { return a.id > b.id; });
        if (first_sync && evals.size() > static_cast<size_t>(m_options.max_evals)) {
            evals.resize(static_cast<size_t>(m_options.max_evals));
        }
        std::reverse(evals.begin(), evals.end());
    }

    // --- fetching builds --------------------------------------------------

    // Fetches builds one by one into records; a build Hydra no longer has
    // (404) is skipped with a warning.
    Step fetch_by_id(const std::vector<int64_t>& ids, std::vector<core::BuildRecord>& out,
                     const std::string& context, uint64_t progress_base = 0) {
        for (const int64_t id : ids) {
            StringSink sink;
            const auto result = m_source.build(id, sink);
            if (result.failure == Failure::not_found) {
                m_observer.on_warning(m_name + ": build " + std::to_string(id) + " is gone from " +
                                      redact_url(m_options.url) + "; skipped");
                continue;
            }
            if (!result.ok()) {
                return failed_fetch(result, context);
            }
            core::BuildRecord record;
            const std::string shown = "'" + redact_url(build_url(m_options.url, id)) + "': ";
            if (auto why = m_parser.parse_build(sink.body(), record); !why.empty()) {
                return fail(context + shown + why, Failure::malformed);
            }
            if (record.id != id) {
                return fail(context + shown + "answered build " + std::to_string(record.id),
                            Failure::malformed);
            }
            out.push_back(std::move(record));
            report_progress(progress_base + out.size());
        }
        return Step::ok;
    }

    // Inside a transaction.
    Step write_records(const std::vector<core::BuildRecord>& records, const std::string& context) {
        for (const auto& record : records) {
            if (auto written = m_index.put_build(m_state.instance, record); !written) {
                return fail(context + written.error());
            }
        }
        return Step::ok;
    }

    // One batch of streamed builds in its own short transaction (called by
    // BuildStager from inside the transfer), or why it was refused.
    Expected<void> write_batch(std::span<const core::BuildRecord> batch) {
        Expected<void> written;
        in_transaction(
            [&] {
                written = m_index.put_builds(m_state.instance, batch);
                return written ? Step::ok : Step::failed;
            },
            Writes::builds);
        return written;
    }

    // Streams /eval/<id>/builds into the index, in batches of short
    // transactions (BuildStager). `ids` receives the ids streamed, sorted.
    // When the request fails as the server giving up (504, timeout, reset:
    // never tried again, see HydraSource::eval_builds), `gave_up` is set,
    // the failure is remembered in the jobset's state (eval_builds_usable)
    // and the step is ok: the caller reads by id instead.
    Step stream_eval_builds(int64_t eval_id, size_t members, std::vector<int64_t>& ids,
                            uint64_t& builds, const std::string& context, bool& gave_up) {
        BuildStager sink(
            m_parser, BatchLimits{}, [this](auto batch) { return write_batch(batch); },
            [this](uint64_t n) { report_progress(n); });
        sink.expect(members);
        const auto result = m_source.eval_builds(eval_id, sink);
        sink.settle(); // the index is this thread's again (a refusal is in result)
        if (!result.ok()) {
            if (result.gave_up) {
                gave_up = true;
                return remember_eval_builds_failure(result, members, context);
            }
            return failed_fetch(result, context);
        }
        ids = sink.take_ids();
        builds = sink.builds();
        return Step::ok;
    }

    // Remembers in the jobset's state, at once, that /eval/<id>/builds
    // failed on an eval of `members` builds, so that this run and the next
    // ones (for eval-builds-retry) read evals as large by id.
    Step remember_eval_builds_failure(const FetchResult& result, size_t members,
                                      const std::string& context) {
        m_observer.on_warning(m_name + ": " + context + result.message + "; not asked again, " +
                              "its builds are read by id");
        return in_transaction([&] {
            m_state.eval_builds_failed_at = m_options.now;
            m_state.eval_builds_failed_members = static_cast<int64_t>(members);
            return Step::ok;
        });
    }

    // Reads the builds `ids` of an eval by id, k_by_id_batch at a time, each
    // batch written in its own short transaction as it comes (so that a run
    // the budget stops keeps them, and the next run's builds_to_fetch()
    // skips them). The budget is looked at before every batch but the
    // first: a stop leaves the eval uncommitted and says how far it got.
    Step fetch_members_by_id(const core::EvalRecord& eval, const std::vector<int64_t>& ids,
                             EvalFetch& got, const std::string& context) {
        for (size_t start = 0; start < ids.size(); start += k_by_id_batch) {
            if (start > 0) {
                if (const Step s = before_step(); s != Step::ok) {
                    if (m_run.stopped == StopReason::budget) {
                        const uint64_t remaining = ids.size() - start;
                        m_observer.on_eval_incomplete(m_name, eval.id,
                                                      eval.builds.size() - remaining,
                                                      eval.builds.size(), remaining);
                    }
                    return s;
                }
            }
            const auto end = std::min(ids.size(), start + k_by_id_batch);
            const std::vector<int64_t> batch(ids.begin() + static_cast<ptrdiff_t>(start),
                                             ids.begin() + static_cast<ptrdiff_t>(end));
            std::vector<core::BuildRecord> records;
            if (const Step s = fetch_by_id(batch, records, context, got.by_id_builds);
                s != Step::ok) {
                return s;
            }
            if (auto written = write_batch(records); !written) {
                return fail(context + written.error());
            }
            got.by_id_builds += records.size();
            m_outcome.builds += records.size(); // written, even if a stop comes
            ++m_run.steps_done;
        }
        return Step::ok;
    }

    // --- ingesting an eval ------------------------------------------------

    // Adds the builds it fetched to `fetched` (sorted).
    Step ingest_eval(const core::EvalRecord& eval, size_t index, size_t count,
                     std::vector<int64_t>& fetched) {
        m_eval_index = index;
        m_eval_count = count;
        const std::string context = "eval " + std::to_string(eval.id) + ": ";
        // Everything is fetched first: the streamed builds are in the index
        // (written batch by batch as they arrived), those fetched by id are
        // in got.records; then one short transaction writes these and
        // commits the eval.
        EvalFetch got;
        if (const Step s = fetch_eval(eval, got, context); s != Step::ok) {
            return s;
        }
        if (const Step s = commit_eval(eval, got, index + 1 == count, context); s != Step::ok) {
            return s;
        }
        const uint64_t builds = got.by_id_builds + got.streamed_builds + got.records.size();
        if (got.method == FetchMethod::by_id) {
            merge_ids(fetched, got.to_fetch);
        } else {
            merge_ids(fetched, std::move(got.streamed));
            merge_ids(fetched, std::move(got.by_id));
        }
        ++m_run.steps_done;
        m_outcome.evals++;
        m_outcome.builds += builds - got.by_id_builds; // those counted as written
        m_observer.on_eval_done(m_name, eval.id, builds, std::string(method_name(got.method)));
        return Step::ok;
    }

    // Fetches what the index lacks of an eval's builds, by the method
    // choose_method() says. When /eval/<id>/builds gives up (504, timeout,
    // reset) it is not asked again: the eval is read by id, resuming after
    // whatever the index already has (an earlier run's batches included).
    Step fetch_eval(const core::EvalRecord& eval, EvalFetch& got, const std::string& context) {
        const size_t members = eval.builds.size();
        got.to_fetch = m_index.reader().builds_to_fetch(m_state.instance, eval.builds);
        got.method = choose_method(
            got.to_fetch.size(), members, m_options.by_id_max,
            eval_builds_usable(m_state, members, m_options.now, m_options.eval_builds_retry));
        if (got.method == FetchMethod::eval_builds) {
            m_index.expect_new_names(got.to_fetch.size());
            // Only its size was needed: 8 MB less for an eval of 1,000,000.
            std::vector<int64_t>().swap(got.to_fetch);
            bool gave_up = false;
            if (const Step s = stream_eval_builds(eval.id, members, got.streamed,
                                                  got.streamed_builds, context, gave_up);
                s != Step::ok) {
                return s;
            }
            if (!gave_up) {
                return fetch_missing_members(eval, got.streamed, got.by_id, got.records, context);
            }
            got.method = FetchMethod::by_id;
            got.to_fetch = m_index.reader().builds_to_fetch(m_state.instance, eval.builds);
        }
        return fetch_members_by_id(eval, got.to_fetch, got, context);
    }

    // Writes the builds fetched by id and the eval in one transaction.
    Step commit_eval(const core::EvalRecord& eval, const EvalFetch& got, bool newest,
                     const std::string& context) {
        return in_transaction([&] {
            if (const Step s = write_records(got.records, context); s != Step::ok) {
                return s;
            }
            m_index.put_eval(m_state, eval);
            m_state.newest_eval = std::max(m_state.newest_eval.value_or(0), eval.id);
            if ((got.method == FetchMethod::eval_builds && newest) || !m_state.rechecked_at) {
                // The newest eval was just read whole, or the re-check
                // interval starts with the jobset's first eval.
                m_state.rechecked_at = m_options.now;
            }
            return Step::ok;
        });
    }

    // /eval/<id>/builds should hold every member the listing named; members
    // it lacks and the index does not know are fetched by id into `records`
    // (written with the eval), so that a committed eval never names a build
    // the index lacks. `streamed` is sorted; `by_id` receives the ids asked
    // for by id (those Hydra no longer has included), so that the run asks
    // for none again.
    Step fetch_missing_members(const core::EvalRecord& eval, const std::vector<int64_t>& streamed,
                               std::vector<int64_t>& by_id, std::vector<core::BuildRecord>& records,
                               const std::string& context) {
        std::vector<int64_t> absent;
        for (const int64_t id : eval.builds) {
            if (!contains(streamed, id)) {
                absent.push_back(id);
            }
        }
        if (absent.empty()) {
            return Step::ok;
        }
        auto missing = m_index.reader().builds_to_fetch(m_state.instance, absent);
        if (missing.empty()) {
            return Step::ok;
        }
        m_observer.on_warning(m_name + ": " + context + "/eval/" + std::to_string(eval.id) +
                              "/builds lacks " + std::to_string(missing.size()) +
                              " member build(s); fetching them by id");
        if (const Step s = fetch_by_id(missing, records, context); s != Step::ok) {
            return s;
        }
        by_id = std::move(missing);
        return Step::ok;
    }

    // --- re-check ---------------------------------------------------------

    // The ingested evals that hold pending builds, newest first, until every
    // pending build is covered (pending builds are nearly always in recent
    // evals; past k_max_cover_evals the rest go by id).
    std::vector<EvalCover> covers(const std::vector<int64_t>& pending) {
        constexpr size_t k_max_cover_evals = 200;
        std::unordered_set<int64_t> uncovered(pending.begin(), pending.end());
        const std::unordered_set<int64_t> wanted(pending.begin(), pending.end());
        std::vector<EvalCover> out;
        for (const int64_t eval_id : m_index.reader().eval_ids(m_state.id)) {
            if ((uncovered.empty() && !out.empty()) || out.size() >= k_max_cover_evals) {
                break;
            }
            const auto members = m_index.reader().eval_builds(m_state.instance, eval_id);
            EvalCover cover;
            cover.eval_id = eval_id;
            cover.members = members.size();
            for (const int64_t id : members) {
                if (wanted.contains(id)) {
                    cover.pending.push_back(id);
                    uncovered.erase(id);
                }
            }
            out.push_back(std::move(cover));
        }
        return out;
    }

    // The jobset's unfinished builds that this run did not read yet
    // (`fetched`, sorted).
    std::vector<int64_t> pending_builds(const std::vector<int64_t>& fetched) {
        std::vector<int64_t> pending;
        for (const int64_t id : m_index.reader().unfinished_builds(m_state.id)) {
            if (!contains(fetched, id)) {
                pending.push_back(id);
            }
        }
        return pending;
    }

    // Whether the newest eval is due to be re-read whole.
    bool newest_eval_due() const {
        return m_state.newest_eval &&
               m_state.rechecked_at.value_or(0) + m_options.recheck_interval <= m_options.now;
    }

    // Re-reads builds that were unfinished and may have finished, and looks
    // for restarts of the newest eval's builds, as plan_recheck() (in
    // syncer.hpp) describes. `fetched` (sorted): the builds this run
    // already read.
    Step recheck(const std::vector<int64_t>& fetched) {
        if (m_state.id == 0) {
            return Step::ok;
        }
        const bool due = newest_eval_due();
        if (m_listing_unchanged && !due) {
            return Step::ok; // nothing Hydra shows changed
        }
        std::vector<int64_t> pending = pending_builds(fetched);
        std::optional<int64_t> whole; // the newest eval, read whole
        std::vector<int64_t> suspects = restart_suspects(due, whole);
        if (pending.empty() && suspects.empty() && !whole && !due) {
            return Step::ok;
        }
        m_eval_index = 0;
        m_eval_count = 0;
        if (const Step s = narrow_pending(pending); s != Step::ok) {
            return s;
        }
        RecheckPlan plan = plan_recheck(pending, covers(pending), whole, m_options.by_id_max);
        merge_ids(plan.by_id, std::move(suspects));
        for (const int64_t eval_id : plan.whole_evals) {
            if (const Step s = before_step(); s != Step::ok) {
                return s;
            }
            if (const Step s = recheck_eval(eval_id); s != Step::ok) {
                return s;
            }
        }
        if (const Step s = recheck_by_id(plan.by_id); s != Step::ok) {
            return s;
        }
        if (due && !whole) {
            // The newest eval was checked for restarts by id (or needed
            // nothing): the interval starts again.
            return in_transaction([&] {
                m_state.rechecked_at = m_options.now;
                return Step::ok;
            });
        }
        return Step::ok;
    }

    // Restarts among the newest eval's builds (see plan_recheck): when it
    // is due and choose_method() reads it whole, `whole` is set; otherwise
    // its members the index has as failed, when the listing as HTML shows
    // fewer failed builds for it than that (any time), or when it is due and
    // the listing could not be read.
    std::vector<int64_t> restart_suspects(bool due, std::optional<int64_t>& whole) {
        if (!m_state.newest_eval) {
            return {};
        }
        const int64_t newest = *m_state.newest_eval;
        const auto row = std::find_if(m_rows.begin(), m_rows.end(),
                                      [&](const EvalRow& r) { return r.id == newest; });
        const bool listed = m_probed && row != m_rows.end();
        if (!due && !listed) {
            return {};
        }
        const auto members = m_index.reader().eval_builds(m_state.instance, newest);
        const bool usable =
            eval_builds_usable(m_state, members.size(), m_options.now, m_options.eval_builds_retry);
        if (due && choose_method(members.size(), members.size(), m_options.by_id_max, usable) ==
                       FetchMethod::eval_builds) {
            whole = newest;
            return {};
        }
        auto failed = m_index.reader().failed_builds(m_state.instance, members);
        if (listed ? row->failed >= static_cast<int64_t>(failed.size()) : !due) {
            return {};
        }
        if (listed) {
            m_observer.on_warning(m_name + ": eval " + std::to_string(newest) + " shows " +
                                  std::to_string(row->failed) +
                                  " failed build(s) where the index has " +
                                  std::to_string(failed.size()) + "; re-reading those by id");
        }
        return failed;
    }

    // Narrows `pending` to the builds GET /api/latestbuilds lists as
    // finished and those it cannot tell about, when use_latest_builds()
    // says that asking is cheaper than re-reading them all. A failed or
    // refused answer leaves `pending` as it was (with a warning), but a
    // stop request or Hydra unavailable ends the jobset as any request.
    Step narrow_pending(std::vector<int64_t>& pending) {
        if (pending.empty()) {
            return Step::ok;
        }
        sort_unique(pending);
        const uint64_t newer = newer_builds(pending.front());
        if (!use_latest_builds(pending.size(), newer)) {
            return Step::ok;
        }
        if (const Step s = before_step(); s != Step::ok) {
            return s;
        }
        StringSink sink;
        const auto result = m_source.latest_builds(m_state.project, m_state.name, newer, sink);
        std::string why;
        std::vector<LatestBuild> answer;
        if (!result.ok()) {
            if (result.failure == Failure::cancelled || result.failure == Failure::transient) {
                return failed_fetch(result, "re-check: ");
            }
            why = result.message;
        } else if (why = m_parser.parse_latest_builds(sink.body(), answer); !why.empty()) {
            why =
                "'" +
                redact_url(latest_builds_url(m_options.url, m_state.project, m_state.name, newer)) +
                "': " + why;
        }
        if (!why.empty()) {
            m_observer.on_warning(m_name + ": re-check: " + why + "; re-reading " +
                                  std::to_string(pending.size()) + " unfinished build(s) by id");
            return Step::ok;
        }
        LatestVerdict verdict = judge_latest(pending, answer, newer);
        pending = std::move(verdict.finished);
        merge_ids(pending, std::move(verdict.uncovered));
        return Step::ok;
    }

    // The jobset's builds in the index with an id of at least `min_id`,
    // counted over its evals newest first until one has none (build ids
    // grow with evals: older evals hold older builds).
    uint64_t newer_builds(int64_t min_id) {
        constexpr size_t k_max_evals = 200;
        std::vector<int64_t> newer;
        size_t evals = 0;
        for (const int64_t eval_id : m_index.reader().eval_ids(m_state.id)) {
            if (++evals > k_max_evals) {
                break;
            }
            auto members = m_index.reader().eval_builds(m_state.instance, eval_id);
            std::erase_if(members, [&](int64_t id) { return id < min_id; });
            if (members.empty()) {
                break;
            }
            merge_ids(newer, std::move(members));
            if (newer.size() > k_latest_max) {
                break; // more than latestbuilds is asked for anyway
            }
        }
        return newer.size();
    }

    // One step of the re-check: an eval read whole.
    Step recheck_eval(int64_t eval_id) {
        uint64_t builds = 0;
        const std::string context = "re-check of eval " + std::to_string(eval_id) + ": ";
        std::vector<int64_t> ids;
        const size_t members = m_index.reader().eval_builds(m_state.instance, eval_id).size();
        bool gave_up = false;
        if (const Step s = stream_eval_builds(eval_id, members, ids, builds, context, gave_up);
            s != Step::ok || gave_up) {
            return s; // gave up: remembered; the eval is not re-read whole this time
        }
        if (eval_id == m_state.newest_eval) {
            const Step step = in_transaction([&] {
                m_state.rechecked_at = m_options.now;
                return Step::ok;
            });
            if (step != Step::ok) {
                return step;
            }
        }
        ++m_run.steps_done;
        m_outcome.rechecked += builds;
        return Step::ok;
    }

    // The rest by id, in batches of k_by_id_batch (each committed on its own),
    // starting at a place that moves with the clock so that a run cut short
    // by the budget does not always re-read the same builds.
    Step recheck_by_id(std::vector<int64_t> rest) {
        if (!rest.empty()) {
            const auto offset = static_cast<size_t>(m_options.now) % rest.size();
            std::rotate(rest.begin(), rest.begin() + static_cast<ptrdiff_t>(offset), rest.end());
        }
        const size_t batch_size = k_by_id_batch;
        for (size_t start = 0; start < rest.size(); start += batch_size) {
            if (const Step s = before_step(); s != Step::ok) {
                return s;
            }
            const auto end = std::min(rest.size(), start + batch_size);
            const std::vector<int64_t> batch(rest.begin() + static_cast<ptrdiff_t>(start),
                                             rest.begin() + static_cast<ptrdiff_t>(end));
            if (const Step s = recheck_batch(batch); s != Step::ok) {
                return s;
            }
        }
        return Step::ok;
    }

    // One step of the re-check: a batch of builds by id.
    Step recheck_batch(const std::vector<int64_t>& batch) {
        const std::string context = "re-check: ";
        std::vector<core::BuildRecord> records;
        if (const Step s = fetch_by_id(batch, records, context); s != Step::ok) {
            return s;
        }
        if (const Step s = in_transaction([&] { return write_records(records, context); });
            s != Step::ok) {
            return s;
        }
        ++m_run.steps_done;
        m_outcome.rechecked += records.size();
        return Step::ok;
    }

    void report_progress(uint64_t builds) {
        m_observer.on_progress(m_name, m_eval_index, m_eval_count, builds, m_source.bytes(),
                               m_source.requests());
    }

    index::IndexWriter& m_index;
    HydraSource& m_source;
    JsonParser& m_parser;
    const SyncOptions& m_options;
    SyncObserver& m_observer;
    RunState& m_run;
    std::string m_name;
    index::JobsetState m_state;
    Validators m_validators;     // of the listing's first page in this run
    bool m_probed = false;       // the evals came from the listing as HTML
    std::vector<EvalRow> m_rows; // its first page, when m_probed
    // The listing as HTML shows no new eval and the digest of the last
    // complete run: nothing Hydra shows about the evals changed.
    bool m_listing_unchanged = false;
    JobsetOutcome m_outcome;
    size_t m_eval_index = 0;
    size_t m_eval_count = 0;
};

} // namespace

SyncSummary run_sync(index::IndexWriter& index, HttpClient& http, const SyncOptions& options,
                     SyncObserver& observer) {
    HttpSource source(http, options.url);
    return run_sync(index, source, options, observer);
}

SyncSummary run_sync(index::IndexWriter& index, HydraSource& source, const SyncOptions& options,
                     SyncObserver& observer) {
    SyncOptions opts = options;
    if (opts.now == 0) {
        opts.now = static_cast<int64_t>(std::time(nullptr));
    }
    JsonParser parser;
    SyncSummary summary;
    RunState run;
    const RunContext context{index, source, parser, opts, observer, run};
    for (const auto& [project, jobset] : opts.jobsets) {
        if (opts.stop != nullptr && opts.stop->load()) {
            run.stopped = StopReason::signal;
            break;
        }
        if (budget_stops(source.requests(), opts.max_requests, run.steps_done)) {
            run.stopped = StopReason::budget;
            break;
        }
        JobsetSync job(context, project, jobset);
        summary.jobsets.push_back(job.run());
        if (run.stopped != StopReason::none) {
            break;
        }
    }
    summary.stopped = run.stopped;
    summary.requests = source.requests();
    summary.bytes = source.bytes();
    return summary;
}

} // namespace hs::sync
