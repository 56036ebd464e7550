-- The node that runs a version's deploy (DEPLOYING). With several nodes on one store, a node that starts
-- resumes only its own cut-off deploys, and those of nodes no longer in the membership; a deploy that a
-- live node is running is left to it. Rows from before this migration have none: any node resumes them.
ALTER TABLE versions ADD COLUMN deploying_node VARCHAR(40);
