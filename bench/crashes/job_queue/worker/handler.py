"""Lambda entry point: one scheduler tick."""

from worker.queue import Job, JobQueue


def handler(event, context):
    queue = JobQueue()
    for job in event["jobs"]:
        queue.submit(Job(**job))
    ran = queue.drain(event["budget"])
    return {"ran": len(ran)}
