"""The staff console: ``/admin`` (a page) and the admin HTTP routes, behind their own credentials.

Who gets in (``AdminGate``):

- with ``Settings.admin_users`` ("user:pass,…"), the page's login form sets a
  session cookie (HttpOnly, SameSite=Strict, 8 hours); the admin key also
  works as the password of any user name;
- with ``Settings.admin_key``, ``Authorization: Bearer <key>`` opens the admin routes;
- with neither, everything here answers only on loopback, and says so elsewhere (403);
- the public ``api_key`` opens none of it (403, saying so); a wrong password or
  key is 401, and after ``MAX_FAILURES`` failures in a minute a client gets 429.

The routes (all in the OpenAPI docs, tag "admin"): ``GET/POST /api/documents``,
``GET /api/documents/jobs/{job}``, ``DELETE /api/documents/{doc}``,
``POST /api/documents/{doc}/reindex``, ``GET /api/documents/{doc}/items``,
``GET /api/logs``, ``GET /api/stats``. The document work is ``ui.documents``,
the log ``ui.conversations``. The page is plain HTML with one inline script
that builds every cell with ``textContent`` (no document text becomes HTML)
and loads nothing from elsewhere.
"""
from __future__ import annotations

import collections
import hmac
import html
import ipaddress
import secrets
import threading
import time

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from policy_assistant.core.settings import Settings
from policy_assistant.ui.conversations import ConversationLog
from policy_assistant.ui.documents import DocumentDesk

ADMIN_API_PATHS = ("/api/documents", "/api/logs", "/api/stats")
COOKIE = "pa_admin"
SESSION_S = 8 * 3600
MAX_FAILURES = 5                 # wrong passwords / keys per client per FAILURE_WINDOW_S before 429
FAILURE_WINDOW_S = 60.0
bearer = HTTPBearer(auto_error=False, description="the admin key (POLICY_ADMIN_KEY)")


def parse_users(spec: str) -> dict[str, str]:
    from policy_assistant.ui.chat import parse_users as parse    # one parser for "user:pass,…"

    return dict(parse(spec))


def is_loopback(host: str | None) -> bool:
    try:
        return bool(host) and ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


class AdminGate:
    def __init__(self, settings: Settings, clock=time.monotonic):
        self.users = parse_users(settings.admin_users)
        self.key = settings.admin_key
        self.public_key = settings.api_key
        self.open_on_loopback = not self.users and not self.key
        self.clock = clock
        self.sessions: dict[str, tuple[str, float]] = {}
        self.failures: dict[str, collections.deque] = {}
        self._lock = threading.Lock()

    # -- failures -------------------------------------------------------------------------------
    def _check_rate(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            recent = self.failures.setdefault(client, collections.deque())
            while recent and now - recent[0] >= FAILURE_WINDOW_S:
                recent.popleft()
            if len(recent) >= MAX_FAILURES:
                wait = int(recent[0] + FAILURE_WINDOW_S - now) + 1
                raise HTTPException(429, f"too many failed logins; try again in {wait} s",
                                    headers={"Retry-After": str(wait)})

    def _fail(self, client: str, message: str, status: int = 401):
        with self._lock:
            self.failures.setdefault(client, collections.deque()).append(self.clock())
        raise HTTPException(status, message, headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)

    # -- checks ---------------------------------------------------------------------------------
    def login(self, client: str, user: str, password: str) -> str:
        """A session token for a right user name and password (or the admin key); 401/429 otherwise."""
        self._check_rate(client)
        expected = self.users.get(user)
        right = (expected is not None and hmac.compare_digest(password.encode(), expected.encode())) or (
            bool(self.key) and hmac.compare_digest(password.encode(), self.key.encode()))
        if not right:
            self._fail(client, "wrong user name or password")
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            self.sessions = {t: s for t, s in self.sessions.items() if s[1] > now}
            self.sessions[token] = (user, now + SESSION_S)
        return token

    def logout(self, token: str | None) -> None:
        with self._lock:
            self.sessions.pop(token or "", None)

    def session_user(self, token: str | None) -> str | None:
        session = self.sessions.get(token or "")
        return session[0] if session and session[1] > time.time() else None

    def check(self, request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
        """Who is asking, or an HTTPException (401 / 403 / 429)."""
        client = request.client.host if request.client else ""
        if self.open_on_loopback:
            if is_loopback(client):
                return "local"
            raise HTTPException(403, "the console answers only on this machine (loopback) until "
                                     "POLICY_ADMIN_USERS or POLICY_ADMIN_KEY is set")
        user = self.session_user(request.cookies.get(COOKIE))
        if user:
            return user
        if credentials is None:
            raise HTTPException(401, "admin credentials wanted: `Authorization: Bearer <POLICY_ADMIN_KEY>` "
                                     "or a login at /admin", headers={"WWW-Authenticate": "Bearer"})
        self._check_rate(client)
        token = credentials.credentials.encode()
        if self.key and hmac.compare_digest(token, self.key.encode()):
            return "key"
        if self.public_key and hmac.compare_digest(token, self.public_key.encode()):
            self._fail(client, "the public API key does not open the admin routes; use POLICY_ADMIN_KEY", 403)
        self._fail(client, "wrong admin key")


def build_admin(assistant, settings: Settings, log: ConversationLog) -> APIRouter:
    gate = AdminGate(settings)
    desk = DocumentDesk(assistant, settings)
    router = APIRouter()

    def admin(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> str:
        return gate.check(request, credentials)

    tags = ["admin"]

    # -- the page -------------------------------------------------------------------------------
    @router.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    def console(request: Request):
        try:
            gate.check(request, None)
        except HTTPException as exc:
            if exc.status_code == 403:
                return HTMLResponse(page("控制台", f"<p class='err'>{html.escape(str(exc.detail))}</p>"), 403)
            return HTMLResponse(login_page(), 401 if request.query_params.get("failed") else 200)
        return HTMLResponse(page("政策文件管理控制台", CONSOLE_BODY, CONSOLE_JS))

    @router.post("/admin/login", include_in_schema=False)
    def login(request: Request, user: str = Form(""), password: str = Form("")):
        client = request.client.host if request.client else ""
        try:
            token = gate.login(client, user, password)
        except HTTPException as exc:
            message = "登录失败次数过多，请稍后再试。" if exc.status_code == 429 else "用户名或密码错误。"
            return HTMLResponse(login_page(message), exc.status_code, headers=exc.headers)
        response = RedirectResponse("/admin", status_code=303)
        response.set_cookie(COOKIE, token, max_age=SESSION_S, httponly=True, samesite="strict", path="/")
        return response

    @router.post("/admin/logout", include_in_schema=False)
    def logout(request: Request):
        gate.logout(request.cookies.get(COOKIE))
        response = RedirectResponse("/admin", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- documents ------------------------------------------------------------------------------
    @router.get("/api/documents", tags=tags, summary="Every indexed document (admin)")
    def documents(who: str = Depends(admin)) -> dict:
        return {"documents": desk.documents(), "upload_limit_bytes": desk.max_bytes,
                "jobs": [job.to_json() for job in list(desk.jobs.values())[-10:]]}

    @router.post("/api/documents", tags=tags, status_code=202, summary="Upload and index files (admin)",
                 responses={201: {"description": "indexed (with wait=true)"}, 202: {"description": "indexing"},
                            409: {"description": "duplicate, or a build is running"},
                            413: {"description": "over the size limit"}})
    async def upload(file: list[UploadFile] = File(description="one or more files (txt, md, html, docx, pdf)"),
                     wait: bool = Query(False, description="answer 201 when indexed instead of 202 at once"),
                     who: str = Depends(admin)):
        files = []
        for part in file:
            data = await part.read(desk.max_bytes + 1)      # never more than the limit in memory
            files.append((part.filename or "", data))
        job = await run_in_threadpool(desk.upload, files, wait)
        body = job.to_json()
        if job.status == "failed":
            return JSONResponse({"error": {"message": job.error, "type": "build_failed"}, "job": body}, 422)
        return JSONResponse({"job": body, "poll": f"/api/documents/jobs/{job.id}"}, 201 if wait else 202)

    @router.get("/api/documents/jobs/{job_id}", tags=tags, summary="One upload or re-index job (admin)")
    def job(job_id: str, who: str = Depends(admin)) -> dict:
        found = desk.jobs.get(job_id)
        if found is None:
            raise HTTPException(404, f"no job {job_id}")
        return found.to_json()

    @router.delete("/api/documents/{doc}", tags=tags, summary="Remove a document from the index now (admin)")
    def delete(doc: str, who: str = Depends(admin)) -> dict:
        return desk.delete(doc)

    @router.post("/api/documents/{doc}/reindex", tags=tags, status_code=202, summary="Index one document again (admin)")
    def reindex(doc: str, wait: bool = False, who: str = Depends(admin)):
        job = desk.reindex(doc, wait)
        return JSONResponse({"job": job.to_json()}, 201 if wait else 202)

    @router.get("/api/documents/{doc}/items", tags=tags, summary="What the indexer made of one document (admin)")
    def items(doc: str, who: str = Depends(admin)) -> dict:
        return desk.show(doc)

    # -- the log --------------------------------------------------------------------------------
    @router.get("/api/logs", tags=tags, summary="The conversation log as CSV or JSONL (admin)")
    def logs(since: str | None = Query(None, description="ISO date or date-time (UTC)"),
             format: str = Query("jsonl", pattern="^(csv|jsonl)$"), who: str = Depends(admin)):
        text = log.export(since, format)
        media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson; charset=utf-8"
        return PlainTextResponse(text, media_type=media,
                                 headers={"Content-Disposition": f'attachment; filename="conversations.{format}"'})

    @router.get("/api/stats", tags=tags, summary="Questions per day, refusal and vote rates, what is missing (admin)")
    def stats(since: str | None = None, who: str = Depends(admin)) -> dict:
        return log.stats(since)

    router.desk = desk          # for tests and the server
    return router


# -- the page's HTML --------------------------------------------------------------------------------
STYLE = """
body { font-family: system-ui, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; margin: 0;
       background: #f6f7f9; color: #1f2328; }
main { max-width: 1200px; margin: 0 auto; padding: 12px 16px 60px; }
h1 { font-size: 1.3rem; margin: .3rem 0 .8rem; } h2 { font-size: 1.1rem; margin: 1.4rem 0 .5rem; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 14px; margin: 10px 0; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 6px 6px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; white-space: nowrap; }
.wrap { overflow-x: auto; }
button, input[type=submit] { font: inherit; padding: 4px 10px; border-radius: 6px; border: 1px solid #8c959f;
       background: #fff; cursor: pointer; }
button.danger { color: #b42318; border-color: #b42318; }
.err { color: #b42318; } .ok { color: #1a7f37; } .muted { color: #59636e; font-size: .85rem; }
progress { width: 100%; height: 14px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; } .card { flex: 1 1 140px; background: #f3f4f6;
       border-radius: 6px; padding: 8px; } .card b { font-size: 1.3rem; display: block; }
.item-text { white-space: pre-wrap; }
form.login { max-width: 360px; margin: 12vh auto; background: #fff; padding: 20px; border-radius: 8px;
       border: 1px solid #d0d7de; } form.login input { width: 100%; margin: 4px 0 12px; padding: 6px;
       box-sizing: border-box; font: inherit; }
@media (max-width: 640px) { main { padding: 8px; } th, td { padding: 4px; font-size: .85rem; }
  table.cards-on-phone thead, table.cards-on-phone tr.head { display: none; }
  table.cards-on-phone tr { display: block; border-bottom: 1px solid #d0d7de; padding: 6px 0; }
  table.cards-on-phone td { display: block; border: 0; padding: 1px 0; }
  table.cards-on-phone td[data-label]::before { content: attr(data-label) "："; color: #59636e; }
  table.cards-on-phone td:empty { display: none; } }
"""


def page(title: str, body: str, script: str = "") -> str:
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><main>{body}</main>"
            + (f"<script>{script}</script>" if script else "") + "</body></html>")


def login_page(message: str = "") -> str:
    error = f'<p class="err" id="login-error">{html.escape(message)}</p>' if message else ""
    return page("控制台登录", f"""<form class="login" method="post" action="/admin/login">
<h1>政策文件管理控制台</h1>{error}
<label>用户名<input name="user" id="user" autocomplete="username"></label>
<label>密码<input name="password" id="password" type="password" autocomplete="current-password"></label>
<input type="submit" id="login" value="登录"></form>""")


CONSOLE_BODY = """
<h1>政策文件管理控制台 <form method="post" action="/admin/logout" style="display:inline"><button>退出</button></form>
 <a href="/" class="muted">问答页面</a> · <a href="/docs" class="muted">API 文档</a></h1>
<section><h2>上传文件</h2>
<form id="upload-form"><input type="file" id="upload-files" name="file" multiple
 accept=".txt,.md,.html,.htm,.docx,.pdf"> <button id="upload-button" type="submit">上传并索引</button></form>
<p class="muted" id="upload-limit"></p>
<progress id="upload-progress" max="1" value="0" hidden></progress>
<div id="upload-status"></div></section>
<section><h2>文件列表</h2><div class="wrap"><table id="docs" class="cards-on-phone"><thead><tr><th>标题</th><th>发文机关</th><th>文号</th>
<th>日期</th><th>年度</th><th>状态</th><th>条目</th><th>源文件</th><th>索引时间</th><th>操作</th></tr></thead>
<tbody></tbody></table></div><div id="doc-status"></div></section>
<section id="detail" hidden><h2 id="detail-title"></h2><div id="detail-body"></div></section>
<section><h2>问答统计</h2><div class="cards" id="stat-cards"></div>
<h2>每日提问</h2><div class="wrap"><table id="per-day"><thead><tr><th>日期</th><th>提问</th><th>拒答</th></tr></thead><tbody></tbody></table></div>
<h2>最常被拒答的问题（文件可能缺少的内容）</h2><div class="wrap"><table id="top-refused"><thead><tr><th>问题</th><th>次数</th><th>最近</th></tr></thead><tbody></tbody></table></div>
<h2>最不满意的回答</h2><div class="wrap"><table id="disliked"><thead><tr><th>时间</th><th>问题</th><th>回答</th><th>意见</th></tr></thead><tbody></tbody></table></div>
<p>导出对话记录：<a href="/api/logs?format=csv" id="export-csv">CSV</a> · <a href="/api/logs?format=jsonl" id="export-jsonl">JSONL</a></p>
</section>
"""

CONSOLE_JS = r"""
(function () {
  function el(tag, text, cls) { var e = document.createElement(tag); if (text != null) e.textContent = String(text);
    if (cls) e.className = cls; return e; }
  function row(cells, labels) { var tr = el('tr'); cells.forEach(function (c, i) { var td = el('td');
    if (c instanceof Node) td.appendChild(c); else td.textContent = c == null ? '' : String(c);
    if (labels && labels[i]) td.dataset.label = labels[i]; tr.appendChild(td); });
    return tr; }
  function heads(table) { return Array.prototype.map.call(document.querySelectorAll(table + ' thead th'),
    function (th) { return th.textContent; }); }
  function when(iso) { return (iso || '').replace('T', ' ').replace('+00:00', ' UTC'); }
  function api(method, url, body) { return fetch(url, {method: method, body: body, credentials: 'same-origin'})
    .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error((j.error && j.error.message) || r.status);
      return j; }); }); }
  function pct(x) { return x == null ? '—' : (Math.round(x * 1000) / 10) + '%'; }
  function status(id, text, ok) { var s = document.getElementById(id); s.textContent = text; s.className = ok ? 'ok' : 'err'; }

  function loadDocs() {
    return api('GET', '/api/documents').then(function (data) {
      document.getElementById('upload-limit').textContent = '支持 txt、md、html、docx、pdf；每个文件不超过 ' +
        Math.round(data.upload_limit_bytes / 1048576) + ' MB。';
      var body = document.querySelector('#docs tbody'); body.textContent = '';
      data.documents.forEach(function (d) {
        var actions = el('span');
        var view = el('button', '查看条目'); view.className = 'view'; view.dataset.doc = d.doc;
        view.onclick = function () { showDoc(d.doc); };
        var again = el('button', '重新索引'); again.onclick = function () { reindex(d.doc); };
        var del = el('button', '删除', 'danger'); del.dataset.doc = d.doc;
        del.onclick = function () { if (confirm('删除《' + (d.title || d.doc) + '》？')) removeDoc(d.doc); };
        actions.append(view, ' ', again, ' ', del);
        var tr = row([d.title || d.doc, d.issuer, d.number, d.date, d.year, d.status, d.items, d.source,
                      when(d.indexed_at), actions], heads('#docs'));
        tr.dataset.doc = d.doc; body.appendChild(tr);
      });
    }).catch(function (e) { status('doc-status', '无法读取文件列表：' + e.message); });
  }

  function showDoc(doc) {
    api('GET', '/api/documents/' + encodeURIComponent(doc) + '/items').then(function (d) {
      var box = document.getElementById('detail'); box.hidden = false;
      document.getElementById('detail-title').textContent = '索引结果：' + (d.metadata.title || d.doc);
      var body = document.getElementById('detail-body'); body.textContent = '';
      var meta = el('table'); [['标题', d.metadata.title], ['发文机关', d.metadata.issuer], ['文号', d.metadata.number],
        ['日期', d.metadata.date], ['主送', (d.metadata.addressees || []).join('、')], ['源文件', d.metadata.source]]
        .forEach(function (p) { meta.appendChild(row(p)); });
      body.appendChild(meta);
      body.appendChild(el('h3', '警告（' + d.warnings.length + '）'));
      var warn = el('ul'); d.warnings.forEach(function (w) { warn.appendChild(el('li', w, 'err')); }); body.appendChild(warn);
      body.appendChild(el('h3', '未编入条目的行（页眉、页脚、落款等，' + d.set_aside.length + '）'));
      var aside = el('ul'); d.set_aside.forEach(function (w) { aside.appendChild(el('li', w, 'muted')); }); body.appendChild(aside);
      if (d.attachments.length) { body.appendChild(el('h3', '附件'));
        var att = el('ul'); d.attachments.forEach(function (a) { att.appendChild(el('li', typeof a === 'string' ? a : JSON.stringify(a))); });
        body.appendChild(att); }
      body.appendChild(el('h3', '条目（' + d.items.length + '，按原文顺序）'));
      var wrap = el('div', null, 'wrap'), t = el('table', null, 'cards-on-phone'); t.id = 'items';
      var labels = ['编号', '层级', '部分', '正文'];
      var head = el('tr', null, 'head'); labels.forEach(function (h) { head.appendChild(el('th', h)); }); t.appendChild(head);
      d.items.forEach(function (it) { var link = el('a', it.item); link.href = it.url; link.target = '_blank';
        var tr = row([link, it.path.join(' › '), it.section, el('div', it.text, 'item-text')], labels); t.appendChild(tr); });
      wrap.appendChild(t); body.appendChild(wrap); box.scrollIntoView({block: 'start'});
    }).catch(function (e) { status('doc-status', e.message); });
  }

  function removeDoc(doc) {
    status('doc-status', '正在删除……', true);
    api('DELETE', '/api/documents/' + encodeURIComponent(doc)).then(function (r) {
      status('doc-status', '已删除 ' + doc + '，问答中不再引用。' + (r.note ? ' ' + r.note : ''), true);
      document.getElementById('detail').hidden = true; loadDocs();
    }).catch(function (e) { status('doc-status', '删除失败：' + e.message); });
  }

  function follow(job) {
    var bar = document.getElementById('upload-progress'); bar.hidden = false;
    var timer = setInterval(function () {
      api('GET', '/api/documents/jobs/' + job.id).then(function (j) {
        if (j.status === 'done' || j.status === 'failed') { clearInterval(timer); bar.max = 1; bar.value = 1; report(j); loadDocs(); }
        else { bar.removeAttribute('value'); status('upload-status', '正在索引：' + j.files.join('、') + '（已嵌入 ' + j.embedded + ' 条）', true); }
      }).catch(function (e) { clearInterval(timer); status('upload-status', e.message); });
    }, 1000);
  }

  function report(job) {
    var box = document.getElementById('upload-status'); box.textContent = ''; box.className = '';
    if (job.status === 'failed') { box.appendChild(el('p', '索引失败：' + job.error, 'err')); return; }
    var r = job.report; box.id = 'upload-status';
    box.appendChild(el('p', '完成：新增 ' + r.added.length + ' 个文件，更新 ' + r.updated.length + '，索引共 ' + r.items + ' 条（' + r.summary + '）', 'ok report-done'));
    r.failed.forEach(function (f) { box.appendChild(el('p', '失败：' + f.file + '：' + f.reason, 'err')); });
  }

  function reindex(doc) {
    api('POST', '/api/documents/' + encodeURIComponent(doc) + '/reindex').then(function (r) { follow(r.job); })
      .catch(function (e) { status('doc-status', e.message); });
  }

  document.getElementById('upload-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var input = document.getElementById('upload-files');
    if (!input.files.length) { status('upload-status', '请选择文件。'); return; }
    var form = new FormData(); Array.prototype.forEach.call(input.files, function (f) { form.append('file', f); });
    status('upload-status', '正在上传……', true);
    api('POST', '/api/documents', form).then(function (r) { input.value = ''; follow(r.job); })
      .catch(function (e) { status('upload-status', '上传被拒绝：' + e.message); });
  });

  function loadStats() {
    api('GET', '/api/stats').then(function (s) {
      var cards = document.getElementById('stat-cards'); cards.textContent = '';
      [['提问', s.questions], ['拒答率', pct(s.refusal_rate)], ['赞同比例', pct(s.up_rate)], ['不满意比例', pct(s.down_rate)],
       ['评价数', s.votes]].forEach(function (c) { var d = el('div', null, 'card'); d.appendChild(el('b', c[1])); d.append(c[0]); cards.appendChild(d); });
      if (!s.enabled) cards.appendChild(el('p', '对话记录已关闭（POLICY_LOG_CONVERSATIONS=false）。', 'muted'));
      var day = document.querySelector('#per-day tbody'); day.textContent = '';
      s.per_day.forEach(function (d) { day.appendChild(row([d.day, d.questions, d.refused])); });
      var top = document.querySelector('#top-refused tbody'); top.textContent = '';
      s.top_refused.forEach(function (q) { top.appendChild(row([q.question, q.times, when(q.last)])); });
      var dis = document.querySelector('#disliked tbody'); dis.textContent = '';
      s.most_disliked.forEach(function (a) { dis.appendChild(row([when(a.time), a.question, a.answer, a.comment || '—'])); });
    }).catch(function () {});
  }
  loadDocs(); loadStats(); setInterval(loadStats, 15000);
})();
"""
