from celery import shared_task

from apps.jobs.models import JobLocked

from . import services
from .choices import DeliveryState

__all__ = ["check_disks_task", "deliver_task", "roll_up_task", "tick_task"]


@shared_task(name="monitoring.check_disks")
def check_disks_task() -> dict | None:
    """Beat: queue a disk health check job (skipped while one is still running)."""
    try:
        return {"job": services.start_check().pk}
    except JobLocked:
        return None


@shared_task(name="monitoring.tick")
def tick_task() -> dict:
    """Beat, every 30 s: read the metrics, evaluate the alert rules, notify the channels of what changed."""
    points = services.collect()
    evaluation = services.evaluate()
    deliveries = services.dispatch()
    return {"points": points, **evaluation.as_dict(), "deliveries": len(deliveries)}


@shared_task(name="monitoring.roll_up")
def roll_up_task() -> dict:
    """Beat, every 5 minutes: roll finished periods up, drop points past their retention, and queue again the
    notifications whose task was lost."""
    return {"buckets": services.roll_up(), "pruned": services.prune(), "requeued": services.requeue_stalled()}


@shared_task(name="monitoring.deliver", ignore_result=True)
def deliver_task(delivery_id: int) -> str | None:
    """One attempt to send an alert notification; a failed one is queued again after its pause."""
    delivery = services.deliver(delivery_id)
    if delivery is not None and delivery.state == DeliveryState.RETRYING:
        deliver_task.apply_async((delivery_id,), eta=delivery.next_attempt_at)
    return delivery.state if delivery is not None else None
