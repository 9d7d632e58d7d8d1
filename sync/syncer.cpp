#include "sync/syncer.hpp"

#include "core/error.hpp"
#include "sync/hydra_json.hpp"

#include <algorithm>
#include <ctime>
#include <optional>
#include <set>

namespace hs::sync {

bool SyncSummary::all_ok() const {
    return std::all_of(jobsets.begin(), jobsets.end(), [](const auto& j) { return j.ok; });
}

namespace {

// How one step of a jobset's sync ended.
enum class Step { ok, failed, stopped };

// Streams /eval/<id>/builds into the index: each array element is parsed and
// written as it arrives. A retried request first rolls back what the failed
// try wrote (a savepoint inside the eval's transaction).
class BuildStreamSink : public BodySink {
public:
    BuildStreamSink(index::Index& index, JsonParser& parser, int64_t instance,
                    std::function<void(uint64_t)> on_build)
        : m_index(index), m_parser(parser), m_instance(instance), m_on_build(std::move(on_build)),
          m_splitter([this](std::string_view element) { return on_element(element); }) {}

    void reset() override {
        if (m_savepoint) {
            m_index.database().exec("ROLLBACK TO eval_try");
            m_index.forget_caches();
        } else {
            m_index.database().exec("SAVEPOINT eval_try");
            m_savepoint = true;
        }
        m_splitter.reset();
        m_error.clear();
        m_builds = 0;
        m_ids.clear();
    }

    bool write(std::string_view chunk) override {
        if (!m_splitter.feed(chunk)) {
            if (m_error.empty()) {
                m_error = m_splitter.error();
            }
            return false;
        }
        return true;
    }

    bool finish() override {
        if (!m_splitter.finish()) {
            m_error = m_splitter.error();
            return false;
        }
        return true;
    }

    std::string error() const override { return m_error; }
    uint64_t builds() const { return m_builds; }
    const std::set<int64_t>& ids() const { return m_ids; }

private:
    bool on_element(std::string_view element) {
        m_error = m_parser.parse_build(element, m_record);
        if (m_error.empty()) {
            m_error = m_index.put_build(m_instance, m_record);
        }
        if (!m_error.empty()) {
            m_error = "element " + std::to_string(m_builds + 1) + ": " + m_error;
            return false;
        }
        m_ids.insert(m_record.id);
        ++m_builds;
        m_on_build(m_builds);
        return true;
    }

    index::Index& m_index;
    JsonParser& m_parser;
    int64_t m_instance;
    std::function<void(uint64_t)> m_on_build;
    ArraySplitter m_splitter;
    core::BuildRecord m_record;
    std::string m_error;
    uint64_t m_builds = 0;
    std::set<int64_t> m_ids;
    bool m_savepoint = false;
};

class JobsetSync {
public:
    JobsetSync(index::Index& index, HttpClient& http, JsonParser& parser,
               const SyncOptions& options, SyncObserver& observer, const std::string& project,
               const std::string& jobset)
        : m_index(index), m_http(http), m_parser(parser), m_options(options), m_observer(observer),
          m_name(project + ":" + jobset) {
        m_state = m_index.jobset(options.url, project, jobset);
        m_outcome.jobset = m_name;
    }

    JobsetOutcome run(StopReason& stopped) {
        const Step step = sync();
        if (step == Step::stopped) {
            stopped = m_http.budget_spent() ? StopReason::budget : StopReason::signal;
        }
        return m_outcome;
    }

private:
    Step sync() {
        std::vector<core::EvalRecord> evals;
        if (const Step s = new_evals(evals); s != Step::ok) {
            return s;
        }
        m_observer.on_jobset_start(m_name, evals.size());
        std::set<int64_t> fetched;
        for (size_t i = 0; i < evals.size(); ++i) {
            if (const Step s = ingest_eval(evals[i], i, evals.size(), fetched); s != Step::ok) {
                return s;
            }
        }
        if (const Step s = recheck(fetched); s != Step::ok) {
            return s;
        }
        m_state.synced_at = m_options.now;
        index::Transaction txn(m_index.database());
        m_index.set_jobset_state(m_state);
        txn.commit();
        return Step::ok;
    }

    Step fail(std::string message) {
        m_outcome.ok = false;
        m_outcome.error = std::move(message);
        return Step::failed;
    }

    // Maps a failed fetch to a step, with the message for the jobset.
    Step failed_fetch(const FetchResult& result) {
        if (result.failure == Failure::cancelled) {
            return Step::stopped;
        }
        return fail(result.message);
    }

    std::string evals_url() const {
        return m_options.url + "/jobset/" + m_state.project + "/" + m_state.name + "/evals";
    }

    // The evals to ingest, oldest first: on a first sync the newest
    // max_evals; later every eval newer than the newest one ingested.
    Step new_evals(std::vector<core::EvalRecord>& out) {
        const bool first_sync = !m_state.newest_eval.has_value();
        const int64_t newest = m_state.newest_eval.value_or(0);
        std::set<int64_t> seen;
        std::string url = evals_url();
        for (int page = 1;; ++page) {
            StringSink sink;
            const auto result = m_http.get_json(url, sink);
            if (!result.ok()) {
                if (result.failure == Failure::not_found && page == 1) {
                    return fail("jobset " + m_name + " does not exist on " +
                                redact_url(m_options.url) + " (" + result.message + ")");
                }
                return failed_fetch(result);
            }
            core::EvalsPage parsed;
            if (auto why = m_parser.parse_evals_page(sink.body(), parsed); !why.empty()) {
                return fail("'" + redact_url(url) + "': " + why);
            }
            bool reached_known = false;
            for (auto& eval : parsed.evals) {
                if (eval.id <= newest) {
                    reached_known = true; // listings are newest first
                    continue;
                }
                if (!seen.insert(eval.id).second) {
                    continue; // offset paging repeats an entry when a new eval arrives
                }
                if (m_index.has_eval(m_state.instance, eval.id)) {
                    continue;
                }
                out.push_back(std::move(eval));
            }
            const bool enough =
                first_sync && out.size() >= static_cast<size_t>(m_options.max_evals);
            if (reached_known || enough || !parsed.next || parsed.evals.empty()) {
                break;
            }
            if (!is_page_query(*parsed.next)) {
                return fail("'" + redact_url(url) + "': unexpected 'next' value " +
                            quote(*parsed.next));
            }
            url = evals_url() + *parsed.next;
        }
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id > b.id; });
        if (first_sync && out.size() > static_cast<size_t>(m_options.max_evals)) {
            out.resize(static_cast<size_t>(m_options.max_evals));
        }
        std::reverse(out.begin(), out.end());
        return Step::ok;
    }

    static bool is_page_query(std::string_view next) {
        constexpr std::string_view prefix = "?page=";
        if (!next.starts_with(prefix) || next.size() == prefix.size() || next.size() > 20) {
            return false;
        }
        return std::all_of(next.begin() + prefix.size(), next.end(),
                           [](char c) { return c >= '0' && c <= '9'; });
    }

    bool use_by_id(size_t to_fetch, size_t members) const {
        return to_fetch <= m_options.by_id_max && to_fetch * 2 <= std::max<size_t>(members, 1);
    }

    // Fetches builds one by one into records; a build Hydra no longer has
    // (404) is skipped with a warning.
    Step fetch_by_id(const std::vector<int64_t>& ids, std::vector<core::BuildRecord>& out) {
        for (const int64_t id : ids) {
            const std::string url = m_options.url + "/build/" + std::to_string(id);
            StringSink sink;
            const auto result = m_http.get_json(url, sink);
            if (result.failure == Failure::not_found) {
                m_observer.on_warning("build " + std::to_string(id) + " is gone from " +
                                      redact_url(m_options.url) + "; skipped");
                continue;
            }
            if (!result.ok()) {
                return failed_fetch(result);
            }
            core::BuildRecord record;
            if (auto why = m_parser.parse_build(sink.body(), record); !why.empty()) {
                return fail("'" + redact_url(url) + "': " + why);
            }
            if (record.id != id) {
                return fail("'" + redact_url(url) + "': answered build " +
                            std::to_string(record.id));
            }
            out.push_back(std::move(record));
            report_progress(out.size());
        }
        return Step::ok;
    }

    Step write_records(const std::vector<core::BuildRecord>& records) {
        for (const auto& record : records) {
            if (auto why = m_index.put_build(m_state.instance, record); !why.empty()) {
                return fail(why);
            }
        }
        return Step::ok;
    }

    // Streams /eval/<id>/builds into the index inside the open transaction.
    Step stream_eval_builds(int64_t eval_id, std::set<int64_t>& ids, uint64_t& builds) {
        const std::string url = m_options.url + "/eval/" + std::to_string(eval_id) + "/builds";
        BuildStreamSink sink(m_index, m_parser, m_state.instance,
                             [this](uint64_t n) { report_progress(n); });
        const auto result = m_http.get_json(url, sink);
        if (!result.ok()) {
            return failed_fetch(result);
        }
        m_index.database().exec("RELEASE eval_try");
        ids.insert(sink.ids().begin(), sink.ids().end());
        builds = sink.builds();
        return Step::ok;
    }

    Step ingest_eval(const core::EvalRecord& eval, size_t index, size_t count,
                     std::set<int64_t>& fetched) {
        m_eval_index = index;
        m_eval_count = count;
        const auto to_fetch = m_index.builds_to_fetch(m_state.instance, eval.builds);
        uint64_t builds = 0;
        std::string method;
        std::optional<index::Transaction> txn;
        if (use_by_id(to_fetch.size(), eval.builds.size())) {
            method = "by-id";
            std::vector<core::BuildRecord> records;
            if (const Step s = fetch_by_id(to_fetch, records); s != Step::ok) {
                return s;
            }
            txn.emplace(m_index.database());
            if (const Step s = write_records(records); s != Step::ok) {
                m_index.forget_caches();
                return s;
            }
            builds = records.size();
            fetched.insert(to_fetch.begin(), to_fetch.end());
        } else {
            method = "eval-builds";
            txn.emplace(m_index.database());
            if (const Step s = stream_eval_builds(eval.id, fetched, builds); s != Step::ok) {
                m_index.forget_caches();
                return s;
            }
        }
        m_index.put_eval(m_state, eval);
        m_state.newest_eval = std::max(m_state.newest_eval.value_or(0), eval.id);
        if (method == "eval-builds" && index + 1 == count) {
            m_state.rechecked_at = m_options.now; // the newest eval was just read whole
        }
        m_index.set_jobset_state(m_state);
        txn->commit();
        m_outcome.evals++;
        m_outcome.builds += builds;
        m_observer.on_eval_done(m_name, eval.id, builds, method);
        return Step::ok;
    }

    // Re-reads builds that were unfinished, and the newest eval's builds once
    // per recheck interval (to see restarts).
    Step recheck(const std::set<int64_t>& fetched) {
        std::vector<int64_t> pending;
        for (const int64_t id : m_index.unfinished_builds(m_state.id)) {
            if (!fetched.contains(id)) {
                pending.push_back(id);
            }
        }
        const bool due =
            m_state.newest_eval &&
            m_state.rechecked_at.value_or(0) + m_options.recheck_interval <= m_options.now;
        if (pending.empty() && !due) {
            return Step::ok;
        }
        m_eval_index = 0;
        m_eval_count = 0;
        std::set<int64_t> done;
        if (m_state.newest_eval && (due || pending.size() > m_options.by_id_max)) {
            index::Transaction txn(m_index.database());
            uint64_t builds = 0;
            if (const Step s = stream_eval_builds(*m_state.newest_eval, done, builds);
                s != Step::ok) {
                m_index.forget_caches();
                return s;
            }
            m_state.rechecked_at = m_options.now;
            m_index.set_jobset_state(m_state);
            txn.commit();
            m_outcome.rechecked += builds;
        }
        std::vector<int64_t> rest;
        for (const int64_t id : pending) {
            if (!done.contains(id)) {
                rest.push_back(id);
            }
        }
        // Unfinished builds outside the newest eval: by id, in bounded batches.
        for (size_t start = 0; start < rest.size(); start += m_options.by_id_max) {
            const auto end =
                std::min(rest.size(), start + std::max<size_t>(m_options.by_id_max, 1));
            const std::vector<int64_t> batch(rest.begin() + static_cast<ptrdiff_t>(start),
                                             rest.begin() + static_cast<ptrdiff_t>(end));
            std::vector<core::BuildRecord> records;
            if (const Step s = fetch_by_id(batch, records); s != Step::ok) {
                return s;
            }
            index::Transaction txn(m_index.database());
            if (const Step s = write_records(records); s != Step::ok) {
                m_index.forget_caches();
                return s;
            }
            txn.commit();
            m_outcome.rechecked += records.size();
        }
        return Step::ok;
    }

    void report_progress(uint64_t builds) {
        m_observer.on_progress(m_name, m_eval_index, m_eval_count, builds, m_http.bytes(),
                               m_http.requests());
    }

    index::Index& m_index;
    HttpClient& m_http;
    JsonParser& m_parser;
    const SyncOptions& m_options;
    SyncObserver& m_observer;
    std::string m_name;
    index::JobsetState m_state;
    JobsetOutcome m_outcome;
    size_t m_eval_index = 0;
    size_t m_eval_count = 0;
};

} // namespace

SyncSummary run_sync(index::Index& index, HttpClient& http, const SyncOptions& options,
                     SyncObserver& observer) {
    SyncOptions opts = options;
    if (opts.now == 0) {
        opts.now = static_cast<int64_t>(std::time(nullptr));
    }
    JsonParser parser;
    SyncSummary summary;
    for (const auto& [project, jobset] : opts.jobsets) {
        JobsetSync job(index, http, parser, opts, observer, project, jobset);
        summary.jobsets.push_back(job.run(summary.stopped));
        if (summary.stopped != StopReason::none) {
            break;
        }
    }
    summary.requests = http.requests();
    summary.bytes = http.bytes();
    return summary;
}

} // namespace hs::sync
