"""A small in-process job queue with priorities: urgent jobs go first, then first-in-first-out."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Job:
    job_id: str
    image: str
    urgent: bool = False


@dataclass
class JobQueue:
    pending: list[Job] = field(default_factory=list)
    done: list[str] = field(default_factory=list)

    def submit(self, job: Job) -> None:
        if job.urgent:
            self.pending.insert(0, job)
        else:
            self.pending.append(job)

    def next_job(self) -> Job | None:
        return self.pending.pop(0)

    def drain(self, budget: int) -> list[str]:
        """Run up to ``budget`` jobs; the scheduler calls this every few seconds."""
        ran = []
        for _ in range(budget):
            job = self.next_job()
            if job is None:
                break
            self.done.append(job.job_id)
            ran.append(job.job_id)
        return ran
