import os, gc, warnings
from probes import http, journey

def nfds():
    return len(os.listdir("/proc/self/fd"))

async def test_no_fd_leak(servers, pki, http_base, refused_port, silent_port, full_backlog_port):
    async def once():
        cases = [
            (f"{http_base}/ok", {}), (f"{http_base}/redirect", {}), (f"{http_base}/garbage", {}),
            (f"{http_base}/gzip", {}), (f"{http_base}/loop/a", {"max_redirects": 3}),
            (f"http://127.0.0.1:{refused_port}/", {}), (f"http://127.0.0.1:{silent_port}/", {}),
            (f"http://127.0.0.1:{full_backlog_port}/", {}), (f"{http_base}/hang", {}),
            (f"https://localhost:{servers.https['good']}/ok", {"ca_file": pki.ca_file}),
            (f"https://localhost:{servers.https['expired']}/ok", {"ca_file": pki.ca_file}),
            (f"https://localhost:{servers.https['good']}/ok", {}),
            (http_base.replace("http:", "https:") + "/ok", {}),
            (f"https://localhost:{servers.https['good']}/redirect", {"ca_file": pki.ca_file}),
        ]
        out = []
        for url, kw in cases:
            c = http.Config.model_validate({"type": "http", "name": "t", "url": url, **kw})
            r = await http.probe(c, timeout=0.3)
            out.append((url.rsplit(":", 1)[-1], r.error, {k: round(v * 1000, 2) for k, v in r.phases.items()}, r.details.get("redirects")))
        return out
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        await once()
        gc.collect()
        before = nfds()
        for _ in range(3):
            out = await once()
        gc.collect()
        after = nfds()
    for o in out:
        print(o)
    print("fds", before, after, [str(x.message)[:100] for x in w])
    assert after <= before + 1

async def test_journey_reuses_within_run(http_base):
    steps = [{"name": "a", "url": "/ok"}, {"name": "b", "url": "/json"}, {"name": "c", "url": "/redirect"}]
    c = journey.Config.model_validate({"type": "journey", "name": "j", "base_url": http_base, "steps": steps})
    r = await journey.probe(c, timeout=5)
    print(r.status, r.details["network"])
