//! The alert sink as the use cases hold it: every alert that went out is
//! counted once, by kind and severity (the `Alerts` metric), whichever way
//! it came (scan event, batch, storm, digest). Counting here, around the
//! [`AlertSink`] port, leaves no publishing path uncounted.

use crate::domain::alert::Alert;
use crate::pipeline::metrics;
use crate::ports::{AlertSink, PublishError, Published};

pub struct CountedSink<A> {
    inner: A,
    /// The metrics namespace; `None` when metrics are off.
    namespace: Option<String>,
}

impl<A: AlertSink> CountedSink<A> {
    pub fn new(inner: A, namespace: Option<String>) -> CountedSink<A> {
        CountedSink { inner, namespace }
    }

    /// Publishes to every destination; counted when all of them took it.
    pub async fn publish(&self, alert: &Alert) -> Result<Published, PublishError> {
        let published = self.inner.publish(alert).await?;
        self.count(alert);
        Ok(published)
    }

    /// Publishes to the chat destination alone: the retry of an alert the
    /// alert topic took while chat failed, which was not counted then.
    pub async fn publish_chat(&self, alert: &Alert) -> Result<Option<String>, PublishError> {
        let sent = self.inner.publish_chat(alert).await?;
        self.count(alert);
        Ok(sent)
    }

    fn count(&self, alert: &Alert) {
        if let Some(line) = self.line(alert) {
            // EMF goes to stdout as its own line; CloudWatch reads it from the log.
            println!("{line}");
        }
    }

    fn line(&self, alert: &Alert) -> Option<String> {
        let namespace = self.namespace.as_deref()?;
        Some(metrics::alert_line(
            namespace,
            alert,
            chrono::Utc::now().timestamp_millis(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alert::AlertKind;
    use crate::ports::{BoxFuture, ServiceFailure};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A sink whose publishes fail while `down` is set.
    #[derive(Default)]
    struct Sink {
        down: AtomicBool,
    }

    impl Sink {
        fn result<T>(&self, ok: T) -> Result<T, PublishError> {
            if self.down.load(Ordering::Relaxed) {
                return Err(PublishError {
                    destination: "alert topic".into(),
                    failure: ServiceFailure {
                        service: "SNS",
                        code: "Throttling".into(),
                        message: "rate exceeded".into(),
                        transient: true,
                    },
                    alert_topic_message_id: None,
                });
            }
            Ok(ok)
        }
    }

    impl AlertSink for Sink {
        fn publish<'a>(&'a self, _: &'a Alert) -> BoxFuture<'a, Result<Published, PublishError>> {
            Box::pin(async move {
                self.result(Published {
                    message_id: "m".into(),
                    chat_message_id: None,
                })
            })
        }

        fn publish_chat<'a>(
            &'a self,
            _: &'a Alert,
        ) -> BoxFuture<'a, Result<Option<String>, PublishError>> {
            Box::pin(async move { self.result(Some("c".into())) })
        }
    }

    fn storm() -> Alert {
        Alert {
            kind: AlertKind::Storm,
            subject: "s".into(),
            body: "b".into(),
            chat: "{}".into(),
            attributes: vec![(crate::domain::alert::ATTR_SEVERITY, "CRITICAL".into())],
            array_attributes: Vec::new(),
        }
    }

    #[test]
    fn the_line_names_the_alert_kind_and_severity_when_metrics_are_on() {
        let on = CountedSink::new(Sink::default(), Some("Ns".into()));
        let line: serde_json::Value = serde_json::from_str(&on.line(&storm()).unwrap()).unwrap();
        assert_eq!(line["AlertKind"], "storm");
        assert_eq!(line["Severity"], "CRITICAL");
        let off = CountedSink::new(Sink::default(), None);
        assert_eq!(off.line(&storm()), None);
    }

    #[tokio::test]
    async fn publishes_pass_through_and_failures_stay_failures() {
        let sink = CountedSink::new(Sink::default(), Some("Ns".into()));
        assert_eq!(sink.publish(&storm()).await.unwrap().message_id, "m");
        assert_eq!(
            sink.publish_chat(&storm()).await.unwrap().as_deref(),
            Some("c")
        );
        sink.inner.down.store(true, Ordering::Relaxed);
        assert!(sink.publish(&storm()).await.is_err());
        assert!(sink.publish_chat(&storm()).await.is_err());
    }
}
