"""A custom resource through CDK's Provider framework: on_event starts the work, is_complete says
when it is done (``Seconds`` after the start), as a resource that takes a while to stabilize."""

import time


def on_event(event, context):
    if event["RequestType"] == "Delete":
        return {}
    return {"PhysicalResourceId": "slow-resource", "Data": {"StartedAt": str(time.time())}}


def is_complete(event, context):
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}
    waited = time.time() - float(event["Data"]["StartedAt"])
    if waited < float(event["ResourceProperties"]["Seconds"]):
        return {"IsComplete": False}
    return {"IsComplete": True, "Data": {"Ready": "after %.0f s" % waited}}
