#include "cli/report_cmd.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace hs::cli {
namespace {

ReportBuild build(int64_t id, bool failed) {
    return {id, core::status_of(true, failed ? 1 : 0), "abc-x"};
}

// One newly failing job with a hostile name on one system, one fixed job.
Report hostile_report() {
    Report report;
    report.url = "https://hydra.example.org";
    report.jobset = "nixpkgs:<trunk>";
    report.eval.eval_id = 2;
    report.against.eval_id = 1;
    const std::string job = "<script>alert('x')</script>&\"";
    report.rows.push_back(
        {Change::newly_failing, job, "x86_64-linux", build(20, true), build(10, false)});
    report.rows.push_back(
        {Change::newly_fixed, "hello", "aarch64-linux", build(21, false), build(11, true)});
    report.by_system["x86_64-linux"][0] = 1;
    report.by_system["aarch64-linux"][1] = 1;
    report.totals[0] = 1;
    report.totals[1] = 1;
    return report;
}

TEST(HtmlEscape, EscapesMarkupAndQuotes) {
    EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"),
              "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    EXPECT_EQ(html_escape("plain text"), "plain text");
}

TEST(ReportHtml, HostileTextNeverLandsRaw) {
    const auto html = report_html(hostile_report());
    EXPECT_EQ(html.find("<script>alert"), std::string::npos);
    EXPECT_EQ(html.find("</script>&"), std::string::npos);
    EXPECT_EQ(html.find("<trunk>"), std::string::npos);
    EXPECT_NE(html.find("nixpkgs:&lt;trunk&gt;: eval 2 against 1"), std::string::npos);
    // Inside the JSON data element: JSON escaping plus \u003c for '<'.
    EXPECT_NE(html.find("\\u003cscript\\u003ealert('x')\\u003c/script\\u003e\\u0026\\\""),
              std::string::npos);
}

TEST(ReportHtml, SelfContainedUnderItsContentSecurityPolicy) {
    const auto html = report_html(hostile_report());
    EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
    EXPECT_EQ(html.find(" src="), std::string::npos);
    EXPECT_EQ(html.find("<link"), std::string::npos);
    EXPECT_EQ(html.find("fetch("), std::string::npos);
    // Exactly two script elements: the data and the page's own script.
    size_t scripts = 0;
    for (size_t at = html.find("<script"); at != std::string::npos;
         at = html.find("<script", at + 1)) {
        ++scripts;
    }
    EXPECT_EQ(scripts, 2U);
}

TEST(ReportHtml, CountsAndChartFollowTheReport) {
    const auto html = report_html(hostile_report());
    EXPECT_NE(html.find("id=\"total-newly-failing\">1<"), std::string::npos);
    EXPECT_NE(html.find("id=\"total-newly-fixed\">1<"), std::string::npos);
    EXPECT_NE(html.find("id=\"total-still-failing\">0<"), std::string::npos);
    // The chart has a bar for the system with a failure only.
    EXPECT_NE(html.find("<g data-system=\"x86_64-linux\" data-failures=\"1\""), std::string::npos);
    EXPECT_EQ(html.find("<g data-system=\"aarch64-linux\""), std::string::npos);
}

TEST(ReportHtml, NoFailureSaysSoInsteadOfAnEmptyChart) {
    Report report = hostile_report();
    report.rows.erase(report.rows.begin());
    report.by_system.erase("x86_64-linux");
    report.totals[0] = 0;
    const auto html = report_html(report);
    EXPECT_EQ(html.find("<svg"), std::string::npos);
    EXPECT_NE(html.find("No failures in this eval."), std::string::npos);
}

TEST(ReportHtml, RowsTravelAsIndexesIntoSharedLists) {
    const auto html = report_html(hostile_report());
    // Statuses and systems are listed once, rows point into them.
    EXPECT_NE(html.find("\"statuses\":[\"failed\",\"succeeded\"]"), std::string::npos) << html;
    EXPECT_NE(html.find("\"systems\":[\"x86_64-linux\",\"aarch64-linux\"]"), std::string::npos);
    EXPECT_NE(html.find(",[1,\"hello\",1,1,21,0,11]"), std::string::npos);
}

} // namespace
} // namespace hs::cli
