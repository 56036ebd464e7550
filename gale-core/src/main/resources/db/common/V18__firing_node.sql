-- Which node fired a slot (the claimer). With several nodes on one store, a node that restarts marks
-- interrupted only its own firings left running, and a node removed as dead has its firings marked so.
-- Rows from before this migration have none: a restart of any node treats them as its own, as before.
ALTER TABLE schedule_firings ADD COLUMN node VARCHAR(40);
