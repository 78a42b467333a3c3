"""A team's own custom resource: joins its Words into a Text attribute (cfn-response by hand)."""

import json
import urllib.request


def handler(event, context):
    words = event["ResourceProperties"].get("Words", [])
    body = {"Status": "SUCCESS", "PhysicalResourceId": "motto-" + "-".join(words),
            "StackId": event["StackId"], "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"], "Data": {"Text": " ".join(words)}}
    request = urllib.request.Request(event["ResponseURL"], data=json.dumps(body).encode(),
                                     method="PUT", headers={"Content-Type": ""})
    urllib.request.urlopen(request, timeout=10).read()
