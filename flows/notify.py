"""Notifications: Prefect automations that POST to a webhook when daily-ingest fails or stops completing.

`newsetl serve --notify URL` (or NEWSETL_NOTIFY_URL) calls setup_notifications once the server is up.
The server evaluates the automations (they work offline against the local server): a Failed or Crashed
run of the deployment posts within about a second; no Completed run for NEWSETL_NOTIFY_STALE_SECONDS
(26 hours by default: a daily run plus slack) posts once that long after the last success, then again
while nothing completes. Setting up is idempotent: the automations are updated in place by name.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

# Every value goes through `tojson` so the body stays valid JSON whatever the message holds.
FAILED_PAYLOAD = """{
  "kind": "flow-run-failed",
  "flow_run": {{ flow_run.name | tojson }},
  "flow_run_id": {{ event.resource.id | tojson }},
  "flow": {{ flow.name | tojson }},
  "state": {{ event.resource["prefect.state-name"] | tojson }},
  "message": {{ event.resource["prefect.state-message"] | tojson }},
  "occurred": {{ event.occurred | string | tojson }}
}"""

# A proactive firing may have no event: guard every use of it (a template that fails to render posts nothing).
STALE_PAYLOAD = """{
  "kind": "no-completed-run",
  "automation": {{ automation.name | tojson }},
  "message": "no completed run of %(target)s for %(seconds)d seconds",
  "last_event": {{ (event.event if event else none) | tojson }},
  "last_event_at": {{ ((event.occurred | string) if event else none) | tojson }}
}"""


def _related(target: str) -> list[dict[str, str]]:
    """'flow' or 'flow/deployment' -> related-resource filters (all must match)."""
    flow, _, deployment = target.partition("/")
    specs = [{"prefect.resource.role": "flow", "prefect.resource.name": flow}]
    if deployment:
        specs.append({"prefect.resource.role": "deployment", "prefect.resource.name": deployment})
    return specs


def _upsert(automation: Any) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(automation.name)
        for extra in existing[1:]:
            client.delete_automation(extra.id)
        if existing:
            # Automation.update() sends the whole model (client.update_automation drops unset nested fields).
            automation.id = existing[0].id
            automation.update()
            return automation
    return automation.create()


def setup_notifications(url: str, target: str, stale_after_seconds: int) -> dict[str, Any]:
    """Create or update the two automations for `target` ("flow/deployment"); return their ids."""
    from prefect.automations import Automation, CallWebhook, EventTrigger, Posture
    from prefect.blocks.webhook import Webhook

    slug = re.sub(r"[^a-z0-9-]+", "-", target.lower())  # block names: lowercase, digits, dashes
    block_id = Webhook(method="POST", url=url, headers={"Content-Type": "application/json"}).save(
        f"newsetl-{slug}-webhook", overwrite=True
    )
    related = _related(target)
    failed = Automation(
        name=f"newsetl: {target} failed",
        description="POST to the webhook when a run fails or crashes",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related=related,
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[CallWebhook(block_document_id=block_id, payload=FAILED_PAYLOAD)],
    )
    stale = Automation(
        name=f"newsetl: {target} did not complete",
        description=f"POST to the webhook when no run completed for {stale_after_seconds} s",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Completed"},
            after={"prefect.flow-run.*"},  # the window restarts at each Completed run
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related=related,
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=stale_after_seconds),
        ),
        actions=[
            CallWebhook(
                block_document_id=block_id,
                payload=STALE_PAYLOAD % {"target": target, "seconds": stale_after_seconds},
            )
        ],
    )
    return {"failed": _upsert(failed).id, "stale": _upsert(stale).id, "block": block_id}
