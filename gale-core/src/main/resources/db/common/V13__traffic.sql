-- Traffic splitting between a function's versions (docs/traffic.md).
-- A pinned split: the share of calls each version gets, in whole percent summing to 100. A function
-- without rows is not pinned: all its calls go to its ACTIVE version, and a deploy moves them to the new one.
CREATE TABLE traffic_splits (
    function_name VARCHAR(63) NOT NULL,
    version       INTEGER NOT NULL,
    percent       INTEGER NOT NULL,
    PRIMARY KEY (function_name, version)
);
-- Tags: a name that reaches one version directly at /fn/NAME@TAG, whatever share it has.
CREATE TABLE traffic_tags (
    function_name VARCHAR(63) NOT NULL,
    tag           VARCHAR(63) NOT NULL,
    version       INTEGER NOT NULL,
    PRIMARY KEY (function_name, tag)
);
