DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE event_counts;
DROP TABLE processed_messages;
DROP TABLE outbox_events;
