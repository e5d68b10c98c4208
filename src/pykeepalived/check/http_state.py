"""HTTP_GET / SSL_GET cadence: one url per probe, keepalived's check_http.c epilog (pure).

# Theory of operation
keepalived checks the url blocks of an HTTP_GET one at a time, one connection per probe, and waits
between them:
  * a url succeeded → the next url after `delay_loop`; after the last one, with no failed url, the
    checker is up (`Remote Web server [IP]:tcp:PORT succeed on service.` when it was not) and the
    round starts again with the first url;
  * a url failed while the checker is up (or has not run yet) → the same url again after
    `delay_before_retry`, up to `retry` times; then the checker goes down (`HTTP_CHECK on service ...
    failed after N retries.`) and that url is remembered as the *failed url*;
  * while down, failures are not retried: the failed url is checked every max(delay_before_retry,
    delay_loop); once it succeeds the round restarts at the first url, and every url must pass
    again before the checker is up;
  * before the first complete round, a success sets the retry counter to `retry` so that a
    later url failing takes the checker down at once.
`fast_recovery` removes the wait while the checker is down (or has not run yet) and no url of the
round has failed: a server coming back is checked url after url without `delay_loop` between them
(keepalived: "if the checker is not up, but we are not aware of any failure, don't delay").
The state lives in the checker's `CheckerState` (is_up, has_run, retry_it) plus `HttpProgress`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pykeepalived.check.state import CheckerState, Effect, LogLine, Verdict


@dataclass(slots=True)
class HttpProgress:
    url_it: int = 0  # the url to check next
    failed_url: int | None = None


def http_result(st: CheckerState, prog: HttpProgress, n_urls: int, ok: bool, reason: str | None,
                fast_recovery: bool = False) -> Verdict:
    """Feed the result of checking url `prog.url_it`; returns the report (if any) and the delay."""
    t = st.timing
    log: list[Effect] = []
    report: bool | None = None
    if ok:
        method = "new"
        if prog.failed_url is not None:  # the failed url is up again: check every url from the first
            prog.failed_url = None
            prog.url_it = 0
        else:
            prog.url_it += 1
            if prog.url_it >= n_urls:  # a complete round
                if not st.is_up or not st.has_run:
                    log.append(LogLine(f"Remote Web server {st.chk} succeed on service."))
                    report = True
                    st.is_up = True
                    st.has_run = True
                prog.url_it = 0
        st.retry_it = 0
    else:
        if reason and (st.is_up or not st.has_run or st.log_all_failures):
            log.append(LogLine(reason))
        if st.is_up or not st.has_run:
            method = "retry"
            st.has_run = True
            st.retry_it += 1
            if st.retry_it > t.retry:
                if st.is_up:
                    name = "SSL_CHECK" if st.kind == "SSL_GET" else "HTTP_CHECK"
                    after = f" after {st.retry_it - 1} retries" if t.retry else ""
                    log.append(LogLine(f"{name} on service {st.chk} failed{after}."))
                    report = False
                    st.is_up = False
                prog.failed_url = prog.url_it
        else:
            method = "failed"  # known dead: no retries, the same url again
    if method == "new":
        delay = t.delay_loop
        if not st.has_run:
            st.retry_it = t.retry
    elif prog.failed_url is not None:
        delay = max(t.delay_before_retry, t.delay_loop)
    else:
        delay = t.delay_before_retry
    if fast_recovery and (not st.has_run or (not st.is_up and prog.failed_url is None)):
        delay = 0
    return Verdict(report, delay, tuple(log))
