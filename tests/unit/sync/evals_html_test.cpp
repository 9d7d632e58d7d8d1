#include "support.hpp"
#include "sync/evals_html.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hs::sync {
namespace {

using test::http_body;
using test::read_sample;

// The real Hydra's page (hydra-samples/real-hydra/probe-evals-html.http).
std::string real_page() {
    return http_body(read_sample("probe-evals-html.http"));
}

// A page shaped like Hydra's, with `rows` as the table body.
std::string page(const std::string& rows, const std::string& showing = "1 - 1 out of 1") {
    return "<!DOCTYPE html>\n<html lang=\"en\">\n  <head>\n"
           "    <title>Hydra - Evaluations of jobset p:j</title>\n  </head>\n  <body>\n"
           "<p>Showing evaluations " +
           showing +
           ".</p>\n  <table class=\"table\">\n    <thead><tr><th>#</th></tr></thead>\n"
           "    <tbody>" +
           rows + "    </tbody>\n  </table>\n  </body>\n</html>\n";
}

std::string badge(const std::string& kind, const std::string& count) {
    return count.empty() ? "" : "<span class=\"badge badge-" + kind + "\">" + count + "</span>";
}

std::string row(const std::string& id, const std::string& succeeded = "5",
                const std::string& failed = "", const std::string& queued = "") {
    return "<tr>\n<td><a class=\"row-link\" href=\"https://hydra.example/eval/" + id + "\">" + id +
           "</a></td>\n<td class=\"nowrap\"><time data-timestamp=\"1735696800\" "
           "class=\"date\">2025-01-01</time></td>\n<td>nixpkgs &rarr; <tt>c0ffee0</tt></td>\n"
           "<td align='right'>\n" +
           badge("success", succeeded) + "\n</td>\n<td align=\"right\">" + badge("danger", failed) +
           "</td>\n<td align=\"right\">" + badge("secondary", queued) +
           "</td>\n<td align='right'><span class='badge badge-success'><strong>+1</strong></span>"
           "</td>\n</tr>";
}

// The page in `parsed` and "", or why it is refused.
std::string parse(std::string_view html, EvalsHtmlPage& parsed) {
    auto page = parse_evals_html(html);
    if (!page) {
        return page.error();
    }
    parsed = std::move(*page);
    return {};
}

TEST(ParseEvalsHtml, ReadsTheRealHydrasPage) {
    EvalsHtmlPage parsed;
    ASSERT_EQ(parse(real_page(), parsed), "");
    EXPECT_EQ(parsed.rows,
              (std::vector<EvalRow>{
                  {3, 1735696800, 8, 1, 2}, {2, 1735693200, 7, 2, 0}, {1, 1735689600, 4, 4, 0}}));
    EXPECT_EQ(parsed.first, 1);
    EXPECT_EQ(parsed.last, 3);
    EXPECT_EQ(parsed.total, 3);
    EXPECT_FALSE(parsed.has_next());
}

TEST(ParseEvalsHtml, AnEmptyJobsetHasNoRows) {
    EvalsHtmlPage parsed;
    ASSERT_EQ(parse(page("\n", "1 - 0 out of 0"), parsed), "");
    EXPECT_TRUE(parsed.rows.empty());
    EXPECT_FALSE(parsed.has_next());
}

TEST(ParseEvalsHtml, AFullPageWithMoreToComeHasANextPage) {
    std::string rows;
    for (int id = 40; id > 20; --id) {
        rows += row(std::to_string(id));
    }
    EvalsHtmlPage parsed;
    ASSERT_EQ(parse(page(rows, "1 - 20 out of 45"), parsed), "");
    EXPECT_EQ(parsed.rows.size(), 20U);
    EXPECT_TRUE(parsed.has_next());
}

TEST(ParseEvalsHtml, MissingBadgesAreZeroCounts) {
    EvalsHtmlPage parsed;
    ASSERT_EQ(parse(page(row("7", "0")), parsed), "");
    EXPECT_EQ(parsed.rows, (std::vector<EvalRow>{{7, 1735696800, 0, 0, 0}}));
    ASSERT_EQ(parse(page(row("7", "250000", "12", "4000")), parsed), "");
    EXPECT_EQ(parsed.rows, (std::vector<EvalRow>{{7, 1735696800, 250000, 12, 4000}}));
}

TEST(ParseEvalsHtml, RefusesOtherHydraPages) {
    // Hydra's page of one eval, asked for as HTML: Hydra's, but not this page.
    EvalsHtmlPage parsed;
    EXPECT_EQ(parse(http_body(read_sample("accepthtml-eval-3.http")), parsed),
              "not Hydra's evaluations page (title)");
    EXPECT_EQ(parse("<html><head><title>Hydra - Error</title></head><body>"
                    "<p class=\"error\">Jobset not found.</p></body></html>",
                    parsed),
              "not Hydra's evaluations page (title)");
}

TEST(ParseEvalsHtml, RefusesTheBotFiltersNonsense) {
    // As tests/fake_hydra's `html` fault makes it (like iocaine's pages).
    const std::string nonsense =
        "<!DOCTYPE html>\n<html><head><title>Lantern Orbit Quiet Harbor</title></head><body>\n"
        "<h1>Lantern Orbit Quiet Harbor</h1>\n<p>harbor lantern orbit quiet evaluations of "
        "jobset <a href=\"/eval/12\">orbit</a></p>\n</body></html>\n";
    EvalsHtmlPage parsed;
    EXPECT_EQ(parse(nonsense, parsed), "not Hydra's evaluations page (title)");
    EXPECT_EQ(parse("", parsed), "not Hydra's evaluations page (title)");
    EXPECT_EQ(parse("{\"evals\":[]}", parsed), "not Hydra's evaluations page (title)");
}

TEST(ParseEvalsHtml, RefusesAPageThatOnlyLooksLikeIt) {
    const std::string title_only =
        "<html><head><title>Hydra - Evaluations of jobset p:j</title></head></html>";
    const struct {
        std::string html;
        std::string why;
    } cases[] = {
        {title_only, "no \"showing evaluations\" line"},
        {page(row("7"), "1 - x out of 1"), "unreadable \"showing evaluations\" line"},
        {page(row("7"), "3 - 1 out of 1"), "\"showing evaluations\" line with an impossible range"},
        {page(row("7"), "1 - 2 out of 2"), "1 rows where the page says 2"},
        {page("", "1 - 1 out of 1"), "0 rows where the page says 1"},
        {page(row("7") + "<p>", "1 - 1 out of 1"), "unexpected text in the table of evaluations"},
        {page("<tr><td>7</td></tr>"), "row 1: a row of 1 cells instead of 7"},
        {page(row("x")), "row 1: an eval link without an eval id"},
        {page(row("0")), "row 1: an eval link without an eval id"},
        {page(row("1234567890123456789")), "row 1: an eval link without an eval id"},
        {page(row("7", "")), "row 1: eval 7: no success badge"},
        {page(row("7", "5", "-1")), "row 1: eval 7: a danger badge without a count"},
        {page(row("7", "5", "", "many")), "row 1: eval 7: a secondary badge without a count"},
        {page(row("7") + row("7"), "1 - 2 out of 2"),
         "row 2: eval 7 is not older than the row before"},
        {page(row("7") + row("9"), "1 - 2 out of 2"),
         "row 2: eval 9 is not older than the row before"},
        {page("<tr><td>x</td>"), "an unterminated row"},
    };
    for (const auto& c : cases) {
        EvalsHtmlPage parsed;
        EXPECT_EQ(parse(c.html, parsed), c.why) << c.html;
    }
    // The link must lead to the eval its text names.
    std::string other = row("7");
    other.replace(other.find("/eval/7"), 7, "/build/7");
    EvalsHtmlPage parsed;
    EXPECT_EQ(parse(page(other), parsed), "row 1: an eval link to another page");
    std::string no_time = row("7");
    no_time.replace(no_time.find("data-timestamp"), 4, "date");
    EXPECT_EQ(parse(page(no_time), parsed), "row 1: eval 7: no timestamp");
}

TEST(ParseEvalsHtml, EveryPrefixOfTheRealPageIsRefusedOrComplete) {
    // A truncated answer never passes for a shorter listing.
    const std::string full = real_page();
    EvalsHtmlPage parsed;
    for (size_t size = 0; size < full.size(); size += 97) {
        const std::string why = parse(full.substr(0, size), parsed);
        if (why.empty()) {
            EXPECT_EQ(parsed.rows.size(), 3U) << size;
        }
    }
}

TEST(ListingDigest, ChangesWithAnyIdOrCount) {
    const std::vector<EvalRow> rows{{3, 100, 8, 1, 2}, {2, 90, 7, 2, 0}};
    const std::string digest = listing_digest(rows);
    EXPECT_EQ(digest.size(), 64U);
    EXPECT_EQ(listing_digest(rows), digest);
    EXPECT_NE(listing_digest({}), digest);
    auto changed = rows;
    changed[0].queued = 1;
    changed[0].succeeded = 9; // a build finished
    EXPECT_NE(listing_digest(changed), digest);
    changed = rows;
    changed[1].failed = 1;
    changed[1].queued = 1; // a failed build was restarted
    EXPECT_NE(listing_digest(changed), digest);
    changed = rows;
    changed[0].timestamp = 101; // not a change of results
    EXPECT_EQ(listing_digest(changed), digest);
    // No two rows read as one.
    EXPECT_NE(listing_digest({{1, 0, 12, 3, 4}}), listing_digest({{11, 0, 2, 3, 4}}));
}

} // namespace
} // namespace hs::sync
