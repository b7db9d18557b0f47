"""The fix plan that opens every findings alert, and the link back to the
source commit of commit-tagged images (SOURCE_URL_TEMPLATE), on the local
emulator."""

import json

from harness.seed import enhanced_finding, event_for, received_alerts, scanned_image

TEMPLATE = "https://git.example.com/{repository}/commit/{tag}"


def findings():
    return [
        enhanced_finding("CVE-2026-90001", "HIGH", package="openssl", version="3.0.2", fixed_in="3.0.8", score=7.5),
        enhanced_finding("CVE-2026-90002", "CRITICAL", package="openssl", version="3.0.2", fixed_in="3.0.15", score=9.8),
        enhanced_finding("CVE-2026-90003", "HIGH", package="openssl", version="3.0.2", fixed_in="3.0.11", score=8.1),
        enhanced_finding("CVE-2026-90004", "HIGH", package="zlib", version="1:1.2.13.dfsg-1",
                         fixed_in="1:1.2.13.dfsg-1+deb12u1", score=7.0),
        enhanced_finding("CVE-2026-90005", "HIGH", package="perl", version="5.36.0", fixed_in=None, score=7.2),
        enhanced_finding("CVE-2026-90006", "MEDIUM", package="gzip", version="1.12", fixed_in="1.13"),
    ]


def alert_for(stack, repository, tag):
    digest = scanned_image(stack, repository, tag, enhanced=findings(), status="ACTIVE")
    event = event_for("enhanced-scan-complete.json", digest)
    event["resources"] = [f"arn:aws:ecr:us-east-1:123456789012:repository/{repository}"]
    event["detail"]["repository-name"] = f"arn:aws:ecr:us-east-1:123456789012:repository/{repository}"
    event["detail"]["image-tags"] = [tag]
    ok, result = stack.invoke(event)
    assert ok, result
    assert result["outcome"] == "alerted", result
    [alert] = received_alerts(stack, stack.queue_url)
    [chat] = received_alerts(stack, stack.chat_queue_url)
    return digest, alert["message"], json.loads(chat["message"])


def test_the_alert_opens_with_the_fix_plan_and_links_a_commit_tag_to_its_source(stack, inbox):
    try:
        stack.start_function(SOURCE_URL_TEMPLATE=TEMPLATE)
        digest, body, chat = alert_for(stack, "team/shop", "a1b2c3d4e5f6")
        _, release_body, release_chat = alert_for(stack, "team/shop", "v1.2.3")
    finally:
        stack.start_function()

    # Summary, console link, source link, then the plan, before everything else.
    head = body.split("\nIMAGE\n")[0]
    assert head.startswith("CRITICAL: 1 critical, 4 high in team/shop:a1b2c3d4e5f6\n")
    assert ("Source commit a1b2c3d4e5f6:\n"
            "https://git.example.com/team/shop/commit/a1b2c3d4e5f6\n") in head
    assert head.index("Source commit") < head.index("FIX PLAN")
    assert (
        "FIX PLAN: 2 upgrades fix 4 of the 5 findings, most effective first\n"
        "  openssl 3.0.2 -> 3.0.15: fixes 3: 1 critical, 2 high, worst score 9.8\n"
        "  zlib 1:1.2.13.dfsg-1 -> 1:1.2.13.dfsg-1+deb12u1: fixes 1 high, worst score 7.0\n"
        "\n"
        "NO KNOWN FIX YET (1 finding)\n"
        "  perl 5.36.0: 1 high (CVE-2026-90005), worst score 7.2\n"
    ) in head
    assert "gzip" not in head, "MEDIUM is below the threshold: not in the plan"
    assert body.index("FIX PLAN") < body.index("FINDINGS AT OR ABOVE HIGH")

    description = chat["content"]["description"]
    assert description.index("*Fix plan*: 2 upgrades fix 4 of the 5 findings") < description.index("*Most severe*")
    assert "• `openssl@3.0.2` → `3.0.15`: fixes 3: 1 critical, 2 high (9.8)" in description
    assert "Source: commit <https://git.example.com/team/shop/commit/a1b2c3d4e5f6|`a1b2c3d4e5f6`>" in description
    assert f"Pull: `123456789012.dkr.ecr.us-east-1.amazonaws.com/team/shop@{digest}`" in description
    assert any("https://git.example.com/team/shop/commit/a1b2c3d4e5f6" in step
               for step in chat["content"]["nextSteps"])

    # A release tag is no commit: the same plan, no source link anywhere.
    assert "FIX PLAN: 2 upgrades fix 4 of the 5 findings" in release_body
    assert "git.example.com" not in release_body
    assert "git.example.com" not in json.dumps(release_chat)


def test_an_invalid_source_url_template_fails_the_cold_start_naming_the_variable(stack, inbox):
    log = stack.cold_start_log(SOURCE_URL_TEMPLATE="http://git.example.com/{repository}")
    assert "SOURCE_URL_TEMPLATE" in log
    assert "https://" in log
