"""Locust users for ``bench_load.py``: signed-in clients using the client site.

Each user takes one client (session cookie, paths) from the JSON file named by
``BENCH_LOCUST_DATA``, written by bench_load.py, so no two users post the same step.
"""

import itertools
import json
import os
import threading

from locust import HttpUser, between, task

with open(os.environ["BENCH_LOCUST_DATA"]) as f:
    DATA = json.load(f)
CSRF = "b" * 32  # any 32-letter secret works as cookie and header alike
_next = itertools.count()
_lock = threading.Lock()


class Client(HttpUser):
    wait_time = between(0.2, 1.0)

    def on_start(self):
        with _lock:
            me = DATA["clients"][next(_next) % len(DATA["clients"])]
        self.client.cookies.set(DATA["session_cookie"], me["session"])
        self.client.cookies.set("csrftoken", CSRF)
        self.steps = list(me["steps"])
        self.checkins = list(me["checkins"])

    @task(4)
    def dashboard(self):
        self.client.get("/coaching/", name="dashboard")

    @task(4)
    def activity(self):
        step = self.steps[0]
        self.steps.append(self.steps.pop(0))
        self.client.get(step, name="activity page")

    @task(2)
    def check_in(self):
        if not self.checkins:
            return self.dashboard()
        path = self.checkins.pop(0)
        with self.client.post(
            path, data={"score_value": "7", "note": "Calmer than last week."},
            headers={"X-CSRFToken": CSRF, "Referer": self.host + path},
            allow_redirects=False, name="check-in POST", catch_response=True,
        ) as response:
            if response.status_code == 302:
                response.success()
            else:
                response.failure(f"status {response.status_code}")
