"""Hydra's HTML evals page (root/evals.tt + common.tt renderEvals), as the
real Hydra web application renders it (NixOS/hydra 14332fbf; capture
shared/reference/hydra-samples/real-hydra/probe-evals-html.http). Shared by
fake_hydra.py and bench/day_hydra.py. Python 3.11 stdlib only.

evals_page(base, project, jobset, rows, page, total) -> bytes, where rows are
EvalRow for the evals of this page, newest first.
"""

from __future__ import annotations

import dataclasses
import html
import time

# The page before the table: head, navigation bar, page header ({base} is the
# Hydra base URL, no trailing slash).
HEAD = """<!DOCTYPE html>

<html lang="en">

  <head>
    <title>Hydra - Evaluations of jobset {project}:{jobset}</title>

    <meta http-equiv="Content-Type" content="text/html; charset=utf-8" />
    <meta http-equiv="X-UA-Compatible" content="IE=Edge" /><script type="text/javascript" src="{base}/static/js/jquery/jquery-3.4.1.min.js"></script>
<script type="text/javascript" src="{base}/static/js/jquery/jquery-ui-1.10.4.min.js"></script>
<script type="text/javascript" src="{base}/static/js/moment/moment-2.24.0.min.js"></script>

<meta name="viewport" content="width=device-width, initial-scale=1.0" />

<link href="{base}/static/fontawesome/css/all.css" rel="stylesheet" />
<script type="text/javascript" src="{base}/static/js/popper.min.js"></script>
<script type="text/javascript" src="{base}/static/bootstrap/js/bootstrap.min.js"></script>
<link href="{base}/static/bootstrap/css/bootstrap.min.css" rel="stylesheet" />

<!-- hydra.css may need to be moved to before boostrap to make the @media rule work. -->
<link rel="stylesheet" href="{base}/static/css/hydra.css" type="text/css" />
<link rel="stylesheet" href="{base}/static/css/rotated-th.css" type="text/css" />

<style>
  .popover {{ max-width: 40%; }}
</style>

<script type="text/javascript" src="{base}/static/js/bootbox.min.js"></script>

<link rel="stylesheet" href="{base}/static/css/tree.css" type="text/css" />

<script type="text/javascript" src="{base}/static/js/common.js"></script>

<script type="text/javascript" src="{base}/static/js/ansi_up.js"></script>

  </head>

  <body>

    <nav class="navbar navbar-expand-md navbar-light bg-light">
      <div class="container">
        <a class="navbar-brand" href="{base}/">            Hydra        </a>
        <button type="button" class="navbar-toggler" data-toggle="collapse" data-target="#navbarSupportedContent">
          <span class="navbar-toggler-icon"></span>
        </button>
        <div class="collapse navbar-collapse" id="navbarSupportedContent"><ul class="navbar-nav mr-auto">
  <li class="nav-item dropdown"  >
    <a class="nav-link dropdown-toggle" href="#" data-toggle="dropdown">Status<b class="caret"></b></a>
    <div class="dropdown-menu">  <a class="dropdown-item"href="{base}/queue_summary" >Queue (1/2)  </a>  <a class="dropdown-item"href="{base}/status" >Running builds  </a>  <a class="dropdown-item"href="{base}/machines" >Machine status  </a>  <a class="dropdown-item"href="{base}/evals" >Latest evaluations  </a>  <a class="dropdown-item"href="{base}/all" >Latest builds  </a>  <a class="dropdown-item"href="{base}/steps" >Latest steps  </a>  <a class="dropdown-item"href="{base}/queue_runner_status" >Queue Runner Status  </a>    </div>
  </li>  <li class="nav-item dropdown"  >
    <a class="nav-link dropdown-toggle" href="#" data-toggle="dropdown">Project<b class="caret"></b></a>
    <div class="dropdown-menu">      <h6 class="dropdown-header">{project}</h6>
      <div class="dropdown-divider"></div>  <a class="dropdown-item"href="{base}/project/{project}" >Overview  </a>  <a class="dropdown-item"href="{base}/project/{project}/all" >Latest builds  </a>  <a class="dropdown-item"href="{base}/project/{project}/channel/latest" >Channel  </a>    </div>
  </li>  <li class="nav-item dropdown"  >
    <a class="nav-link dropdown-toggle" href="#" data-toggle="dropdown">Jobset<b class="caret"></b></a>
    <div class="dropdown-menu">      <h6 class="dropdown-header">{jobset}</h6>
      <div class="dropdown-divider"></div>  <a class="dropdown-item"href="{base}/jobset/{project}/{jobset}" >Overview  </a>  <a class="dropdown-item active"href="{base}/jobset/{project}/{jobset}/evals" >Evaluations  </a>  <a class="dropdown-item"href="{base}/jobset/{project}/{jobset}/all" >Latest builds  </a>  <a class="dropdown-item"href="{base}/jobset/{project}/{jobset}/channel/latest" >Channel  </a>    </div>
  </li>
</ul>  <form class="form-inline" action="{base}/search">
    <input name="query" type="text" class="form-control" placeholder="Search" value=""/>
  </form>
<ul class="navbar-nav">
  <li class="nav-item dropdown" id="sign-in-menu" >
    <a class="nav-link dropdown-toggle" href="#" data-toggle="dropdown">Sign in<b class="caret"></b></a>
    <div class="dropdown-menu dropdown-menu-right">      <a class="dropdown-item" href="#hydra-signin" data-toggle="modal">Sign in with a Hydra account</a>    </div>
  </li>
</ul>
        </div>
      </div>
    </nav>

    <div class="container">
      <div class="skip-topbar"></div>
        <div class="page-header">Evaluations of jobset <a href="{base}/project/{project}">{project}</a>:<a href="{base}/jobset/{project}/{jobset}">{jobset}</a>        </div>
"""

THEAD = """  <table class="table table-condensed table-striped clickable-rows">
    <thead>
      <tr>
        <th rowspan="2">#</th>        <th rowspan="2" style="width: 10em">Date</th>
        <th rowspan="2">Input changes</th>
        <th colspan="4">Jobs</th>
      </tr>
      <tr>
        <th style="width: 2em">
            <img src="{base}/static/images/emojione-check-2714.svg" height="12" width="12" title="Succeeded" alt="Succeeded" class="build-status" />
        </th>
        <th style="width: 2em">
            <img src="{base}/static/images/emojione-red-x-274c.svg" height="12" width="12" title="Failed" alt="Failed" class="build-status" />
        </th>
        <th style="width: 2em">
            <img src="{base}/static/images/emojione-question-2754.svg" height="12" width="12" title="Queued" alt="Queued" class="build-status" />
        </th>
        <th style="width: 2em">
            <img src="{base}/static/images/delta.svg" height="12" width="12" title="Delta" alt="Delta" class="build-status" />
        </th>
      </tr>
    </thead>
    <tbody>"""

TAIL = """      <footer class="navbar">
        <hr />
        <small>
          <em><a href="http://nixos.org/hydra" target="_blank" class="squiggle">Hydra</a> &lt;devel&gt; (using &lt;devel&gt; and &lt;devel&gt;).</em>        </small>
      </footer>

    </div>

  <div id="hydra-signin" class="modal hide fade" tabindex="-1" role="dialog" aria-hidden="true">
    <div class="modal-dialog" role="document">
      <div class="modal-content">
        <form id="signin-form">
          <div class="modal-body">
            <div class="form-group">
              <label for="username" class="col-form-label">User name</label>
              <input type="text" class="form-control" name="username"/>
            </div>
            <div class="form-group">
              <label for="password" class="col-form-label">Password</label>
              <input type="password" class="form-control" name="password"/>
            </div>
          </div>
          <div class="modal-footer">
            <button type="submit" class="btn btn-primary">Sign in</button>
            <button type="button" class="btn btn-secondary" data-dismiss="modal">Cancel</button>
          </div>
        </form>
      </div>
    </div>
  </div>

  <script>

    function finishSignOut() {{ }}

    $("#signin-form").submit(function(e) {{
      e.preventDefault();
      requestJSON({{
        url: "{base}/login",
        data: $(this).serialize(),
        type: 'POST',
        success: function(data) {{
          window.location.reload();
        }}
      }});
      return false;
    }});

    $("#sign-in-menu").on("click", function() {{    }});

  </script>

  </body>

</html>
"""


@dataclasses.dataclass
class EvalRow:
    """One eval as the page shows it."""
    id: int
    timestamp: int
    inputs: list[tuple[str, str]]  # changed inputs (name, revision); [] shows "-"
    succeeded: int                 # member builds finished with status 0
    failed: int                    # finished with another status
    queued: int                    # unfinished (nr_scheduled)
    diff: int | None               # succeeded minus the previous eval's; None: no previous


def _row(base: str, r: EvalRow) -> str:
    tm = time.gmtime(r.timestamp)
    title = time.strftime("%Y-%m-%d %H:%M:%S", tm)
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", tm)
    day = time.strftime("%Y-%m-%d", tm)
    if r.inputs:
        changes = "".join(
            f"{html.escape(name)} →     <a class=\"rev-copy\" href=\"javascript:void(0)\" "
            f"onclick=\"copyToClipboard('{html.escape(rev)}', this); return false;\" "
            f"title=\"Click to copy full revision: {html.escape(rev)}\"><tt>{html.escape(rev[:7])}</tt></a>"
            for name, rev in r.inputs)
    else:
        changes = "-"
    failed = f"            <span class=\"badge badge-danger\">{r.failed}</span>" if r.failed > 0 else ""
    queued = f"            <span class=\"badge badge-secondary\">{r.queued}</span>" if r.queued > 0 else ""
    delta = ""
    if r.diff is not None and r.diff > 0:
        delta = f"              <span class='badge badge-success'><strong>+{r.diff}</strong></span>"
    elif r.diff is not None and r.diff < 0 and r.queued == 0:
        delta = f"              <span class='badge badge-danger'><strong>{r.diff}</strong></span>"
    return (
        "        <tr>\n"
        f"          <td><a class=\"row-link\" href=\"{base}/eval/{r.id}\">{r.id}</a></td>"
        f"          <td class=\"nowrap\"><time data-timestamp=\"{r.timestamp}\" title=\"{title} (UTC)\" "
        f"datetime=\"{iso}\" class=\"date is-relative\">{day}</time></td>\n"
        f"          <td>{changes}          </td>\n"
        "          <td align='right' class=\"nowrap\">\n"
        f"            <span class=\"badge badge-success\">{r.succeeded}</span>\n"
        "          </td>\n"
        f"          <td align=\"right\" class=\"nowrap\">{failed}          </td>\n"
        f"          <td align=\"right\" class=\"nowrap\">{queued}          </td>\n"
        f"          <td align='right' class=\"nowrap\">{delta}          </td>\n"
        "        </tr>"
    )


def _pager(page: int, last: int) -> str:
    def item(disabled: bool, target: int, text: str) -> str:
        cls = "page-item disabled" if disabled else "page-item"
        return f"    <li class=\"{cls}\"><a class=\"page-link\" href=\"?page={target}\">{text}</a></li>\n"
    return ("  <ul class=\"pagination\">\n"
            + item(page <= 1, 1, "&laquo; First")
            + item(page <= 1, page - 1, "&lsaquo; Previous")
            + item(page >= last, page + 1, "Next &rsaquo;")
            + item(page >= last, last, "Last &raquo;")
            + "  </ul>\n")


def evals_page(base: str, project: str, jobset: str, rows: list[EvalRow], page: int,
               total: int, page_size: int = 20) -> bytes:
    """The whole page: `rows` are this page's evals (newest first), `total`
    the number of listed evals of the jobset."""
    last = max(1, -(-total // page_size))
    first_shown = (page - 1) * page_size + 1
    names = {"base": base, "project": html.escape(project), "jobset": html.escape(jobset)}
    parts = [
        HEAD.format(**names),
        f"<p>Showing evaluations {first_shown} - {first_shown - 1 + len(rows)} out of {total}.</p>\n",
        THEAD.format(**names),
        "".join(_row(base, r) for r in rows),
        "    </tbody>\n  </table>",
        _pager(page, last),
        TAIL.format(**names),
    ]
    return "".join(parts).encode("utf-8")
