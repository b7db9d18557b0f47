import pytest

from harness.local import ROOT, LocalStack, built_binary
from harness.seed import alert_queue, received_alerts, subscribe_queue

# The filter policy docs/alerts.md offers for a pager: CRITICAL findings only.
CRITICAL_ONLY = {"severity": ["CRITICAL"], "alert_kind": ["findings"]}


@pytest.fixture(scope="session")
def stack():
    local = LocalStack(built_binary(), ROOT / ".local" / "e2e-logs")
    with local:
        topic_arn, queue_url = alert_queue(local)
        local.topic_arn, local.queue_url = topic_arn, queue_url
        local.critical_queue_url = subscribe_queue(local, topic_arn, "pager-critical", CRITICAL_ONLY)
        chat_topic_arn, chat_queue_url = alert_queue(local, "scan-chat")
        local.chat_queue_url = chat_queue_url
        local.function_env["ALERT_TOPIC_ARN"] = topic_arn
        local.function_env["CHAT_TOPIC_ARN"] = chat_topic_arn
        local.start_function()
        yield local


@pytest.fixture
def inbox(stack):
    """The alert queue, emptied before the test (the pager and chat queues too)."""
    for url in (stack.queue_url, stack.critical_queue_url, stack.chat_queue_url):
        received_alerts(stack, url, wait_seconds=0)
    return stack.queue_url


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    local = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
    if report.failed and local is not None:
        report.sections.append(("local stack logs", local.logs()))
