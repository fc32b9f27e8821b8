"""The words of a job-ended message."""

from decode_userapi.domain.jobs import Job


def subject(job: Job) -> str:
    return f"Job {job.job_name} (id={job.id}) {job.status.value}"


def body(job: Job) -> str:
    lines = [
        f"Your DECODE OpenCloud job {job.job_name} (id={job.id}) is {job.status.value}.",
        f"Results: {', '.join(f'{path}/' for path in job.paths_out.values())}",
    ]
    if job.runtime_details:
        lines.append(f"Details:\n{job.runtime_details}")
    return "\n".join(lines)
