from worker.queue import Job, JobQueue


def test_urgent_jobs_run_first():
    q = JobQueue()
    q.submit(Job("a", "a.png"))
    q.submit(Job("b", "b.png", urgent=True))
    q.submit(Job("c", "c.png"))
    assert q.drain(2) == ["b", "a"]
    assert [j.job_id for j in q.pending] == ["c"]


def test_drain_runs_all_within_budget():
    q = JobQueue()
    for n in range(3):
        q.submit(Job(str(n), f"{n}.png"))
    assert q.drain(3) == ["0", "1", "2"]
    assert q.done == ["0", "1", "2"]
