"""AutomationJobQueue on SQS FIFO (AutomationsQueue): SendMessageBatch, ten at a time."""

from __future__ import annotations

import json
from collections.abc import Sequence

from zapgate_control.aws import client
from zapgate_control.observability import logger, metrics
from zapgate_control.ports.automation_jobs import AutomationJob

BATCH = 10


class SqsAutomationJobs:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def publish(self, jobs: Sequence[AutomationJob]) -> set[str]:
        if not jobs:
            return set()
        if not self.queue_url:  # nowhere to put them: none was taken (the stream retries)
            return {job.key for job in jobs}
        refused: set[str] = set()
        for start in range(0, len(jobs), BATCH):
            chunk = list(jobs[start:start + BATCH])
            entries = [
                {"Id": str(n), "MessageBody": json.dumps(job.body, separators=(",", ":")),
                 "MessageGroupId": job.group, "MessageDeduplicationId": job.deduplication_id}
                for n, job in enumerate(chunk)
            ]
            try:
                response = client("sqs").send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception as exc:
                logger.warning("automation jobs not queued", extra={"error": type(exc).__name__, "count": len(chunk)})
                refused.update(job.key for job in chunk)
                continue
            failed = response.get("Failed") or []
            refused.update(chunk[int(entry["Id"])].key for entry in failed)
        if refused:
            metrics.add_metric(name="AutomationJobsRefused", unit="Count", value=len(refused))
        queued = len(jobs) - len(refused)
        if queued:
            metrics.add_metric(name="AutomationJobsQueued", unit="Count", value=queued)
        return refused
