// The reads of history, bisect and the eval report: a job's builds eval by
// eval, an eval's member builds. Each statement is prepared inside the read
// (read_with), on the connection that read uses: a read redone after a
// reconnect (index.cpp, IndexReader::read) prepares it again.

#include "core/error.hpp"
#include "core/id_list.hpp"
#include "index/index.hpp"
#include "index/rows.hpp"

#include <algorithm>

namespace hs::index {

namespace {

// "name revision" lines (IndexWriter::put_eval).
std::vector<std::pair<std::string, std::string>> parse_inputs(std::string_view text) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!text.empty()) {
        const size_t end = std::min(text.find('\n'), text.size());
        const std::string_view line = text.substr(0, end);
        text.remove_prefix(std::min(end + 1, text.size()));
        if (line.empty()) {
            continue;
        }
        const size_t blank = line.find(' ');
        if (blank == std::string_view::npos) {
            out.emplace_back(std::string(line), std::string());
        } else {
            out.emplace_back(std::string(line.substr(0, blank)),
                             std::string(line.substr(blank + 1)));
        }
    }
    return out;
}

// The ids of `targets` (sorted) that the member list holds, decoded as far
// as the greatest target only: an eval holds 250,000 builds, a job a few.
// nullopt if the list is corrupt.
std::optional<std::vector<int64_t>> members_among(std::span<const uint8_t> list,
                                                  const std::vector<int64_t>& targets) {
    std::vector<int64_t> found;
    if (targets.empty()) {
        return found;
    }
    auto next = targets.begin(); // the first target not passed yet
    const bool valid = core::for_each_id(list, [&](int64_t id) {
        next = std::lower_bound(next, targets.end(), id);
        if (next != targets.end() && *next == id) {
            found.push_back(*next++);
        }
        return id < targets.back();
    });
    if (!valid) {
        return std::nullopt;
    }
    return found;
}

// The builds of `job` in the jobset, sorted by Hydra id.
std::vector<BuildRow> builds_of_job_in(Database& db, const JobsetState& jobset,
                                       const std::string& job) {
    Statement stmt(db, R"sql(
        SELECT b.id, b.drv, b.name, sn.text, b.finished, b.status, b.stoptime - b.duration,
               b.stoptime
        FROM build b JOIN name sn ON sn.id = b.system
        WHERE b.job = (SELECT id FROM name WHERE text = ?1) AND b.jobset = ?2
    )sql");
    auto use = stmt.use();
    use.bind(job).bind(jobset.id);
    std::vector<BuildRow> builds;
    while (use.next()) {
        BuildRow row;
        row.build_id = use.get_int(0) & k_id_mask;
        row.hydra_url = jobset.url;
        row.drv_hash = rows::to_hash(use.get_blob(1));
        row.drv_name = use.get_str(2);
        row.project = jobset.project;
        row.jobset = jobset.name;
        row.job = job;
        row.system = use.get_str(3);
        row.finished = use.get_int(4) != 0;
        if (const auto status = use.get_opt_int(5)) {
            row.buildstatus = static_cast<int>(*status);
        }
        row.starttime = use.get_opt_int(6);
        row.stoptime = use.get_opt_int(7);
        row.synced_at = jobset.synced_at;
        builds.push_back(std::move(row));
    }
    std::sort(builds.begin(), builds.end(),
              [](const BuildRow& a, const BuildRow& b) { return a.build_id < b.build_id; });
    return builds;
}

// The builds `ids` (sorted, unique) of one Hydra instance; ids the index
// lacks are left out (never the case after a sync).
std::vector<EvalMember> members_of(Database& db, int64_t instance,
                                   const std::vector<int64_t>& ids) {
    std::vector<EvalMember> members;
    members.reserve(ids.size());
    Statement stmt(db, "SELECT job, system, finished, status FROM build WHERE id = ?1");
    for (const int64_t id : ids) {
        auto use = stmt.use();
        use.bind(row_key(instance, id));
        if (!use.next()) {
            continue;
        }
        EvalMember member;
        member.build_id = id;
        member.job = use.get_int(0);
        member.system = use.get_int(1);
        member.finished = use.get_int(2) != 0;
        if (const auto status = use.get_opt_int(3)) {
            member.buildstatus = static_cast<int>(*status);
        }
        members.push_back(member);
    }
    return members;
}

// The members (sorted by id) that `list` (sorted) names, in one merge.
std::vector<EvalMember> pick_members(const std::vector<EvalMember>& members,
                                     const std::vector<int64_t>& list) {
    std::vector<EvalMember> out;
    out.reserve(list.size());
    auto at = members.begin();
    for (const int64_t id : list) {
        at = std::lower_bound(at, members.end(), id,
                              [](const EvalMember& m, int64_t v) { return m.build_id < v; });
        if (at != members.end() && at->build_id == id) {
            out.push_back(*at);
        }
    }
    return out;
}

[[noreturn]] void corrupt_members(const std::string& path, int64_t eval_id) {
    throw Error(path + ": eval " + std::to_string(eval_id) + " has a corrupt member list",
                ExitCode::no_index);
}

} // namespace

std::vector<JobsetState> IndexReader::jobsets_named(const std::string& project,
                                                    const std::string& name) {
    std::vector<JobsetState> out;
    read_with([&] {
        out.clear();
        const std::string sql = "SELECT " + std::string(rows::k_jobset_columns) +
                                ", j.hydra, h.url FROM jobset j JOIN hydra h ON h.id = j.hydra "
                                "WHERE j.project = ?1 AND j.name = ?2 ORDER BY h.url";
        Statement stmt(m_db, sql.c_str());
        auto use = stmt.use();
        use.bind(project).bind(name);
        while (use.next()) {
            JobsetState state;
            rows::read_jobset(use, state);
            state.instance = use.get_int(rows::k_jobset_column_count);
            state.url = use.get_str(rows::k_jobset_column_count + 1);
            state.project = project;
            state.name = name;
            out.push_back(std::move(state));
        }
    });
    return out;
}

std::vector<EvalInfo> IndexReader::jobset_evals(int64_t jobset_row) {
    std::vector<EvalInfo> out;
    read_with([&] {
        out.clear();
        Statement stmt(m_db, "SELECT id, timestamp, inputs FROM eval WHERE jobset = ?1 "
                             "ORDER BY id DESC");
        auto use = stmt.use();
        use.bind(jobset_row);
        while (use.next()) {
            out.push_back(
                {use.get_int(0) & k_id_mask, use.get_int(1), parse_inputs(use.get_str(2))});
        }
    });
    return out;
}

std::vector<JobEval>
IndexReader::job_history(const JobsetState& jobset, const std::string& job,
                         const std::function<bool(const std::vector<JobEval>&)>& enough) {
    std::vector<JobEval> out;
    read_with([&] {
        out.clear();
        const Snapshot snapshot(m_db);
        std::vector<BuildRow> builds = builds_of_job_in(m_db, jobset, job);
        if (builds.empty()) {
            return;
        }
        std::vector<int64_t> ids;
        ids.reserve(builds.size());
        for (const auto& row : builds) {
            ids.push_back(row.build_id);
        }
        Statement evals(m_db, "SELECT id, timestamp, inputs, builds FROM eval WHERE jobset = ?1 "
                              "ORDER BY id DESC");
        auto use = evals.use();
        use.bind(jobset.id);
        while (use.next()) {
            JobEval entry;
            entry.eval = {use.get_int(0) & k_id_mask, use.get_int(1), parse_inputs(use.get_str(2))};
            const auto found = members_among(use.get_blob(3), ids);
            if (!found) {
                corrupt_members(m_db.path(), entry.eval.eval_id);
            }
            // A job has one build per eval; should Hydra list two, the
            // newest counts.
            if (!found->empty()) {
                const auto it = std::lower_bound(
                    builds.begin(), builds.end(), found->back(),
                    [](const BuildRow& row, int64_t id) { return row.build_id < id; });
                entry.build = *it;
            }
            out.push_back(std::move(entry));
            if (enough && enough(out)) {
                break;
            }
        }
    });
    return out;
}

std::vector<std::optional<EvalContents>>
IndexReader::eval_contents(int64_t instance, std::span<const int64_t> eval_ids) {
    std::vector<std::optional<EvalContents>> out;
    read_with([&] {
        out.assign(eval_ids.size(), std::nullopt);
        const Snapshot snapshot(m_db);
        std::vector<std::vector<int64_t>> lists(eval_ids.size());
        {
            Statement stmt(m_db, "SELECT timestamp, inputs, builds FROM eval WHERE id = ?1");
            for (size_t i = 0; i < eval_ids.size(); ++i) {
                auto use = stmt.use();
                use.bind(row_key(instance, eval_ids[i]));
                if (!use.next()) {
                    continue;
                }
                out[i].emplace();
                out[i]->eval = {eval_ids[i], use.get_int(0), parse_inputs(use.get_str(1))};
                auto decoded = core::decode_id_list(use.get_blob(2));
                if (!decoded) {
                    corrupt_members(m_db.path(), eval_ids[i]);
                }
                lists[i] = std::move(*decoded);
            }
        }
        // Every member once, in id order: neighbours share pages, and
        // consecutive evals share most of their builds.
        std::vector<int64_t> all;
        for (const auto& list : lists) {
            all.insert(all.end(), list.begin(), list.end());
        }
        std::sort(all.begin(), all.end());
        all.erase(std::unique(all.begin(), all.end()), all.end());
        const std::vector<EvalMember> members = members_of(m_db, instance, all);
        for (size_t i = 0; i < lists.size(); ++i) {
            if (out[i]) {
                out[i]->builds = pick_members(members, lists[i]);
            }
        }
    });
    return out;
}

std::vector<std::pair<core::HashBytes, std::string>>
IndexReader::drvs_of_builds(int64_t instance, std::span<const int64_t> build_ids) {
    std::vector<std::pair<core::HashBytes, std::string>> out;
    read_with([&] {
        out.assign(build_ids.size(), {});
        const Snapshot snapshot(m_db);
        Statement stmt(m_db, "SELECT drv, name FROM build WHERE id = ?1");
        for (size_t i = 0; i < build_ids.size(); ++i) {
            auto use = stmt.use();
            use.bind(row_key(instance, build_ids[i]));
            if (use.next()) {
                out[i] = {rows::to_hash(use.get_blob(0)), use.get_str(1)};
            }
        }
    });
    return out;
}

std::vector<std::string> IndexReader::names() {
    std::vector<std::string> out;
    read_with([&] {
        out.clear();
        Statement stmt(m_db, "SELECT id, text FROM name ORDER BY id");
        auto use = stmt.use();
        while (use.next()) {
            const auto id = static_cast<size_t>(use.get_int(0));
            if (id >= out.size()) {
                out.resize(std::max(id + 1, out.size() * 2)); // ids are dense
            }
            out[id] = use.get_str(1);
        }
        while (!out.empty() && out.back().empty()) {
            out.pop_back();
        }
    });
    return out;
}

} // namespace hs::index
