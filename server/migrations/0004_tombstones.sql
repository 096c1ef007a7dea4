-- casesync server schema, version 4: an erased case's tombstone keeps only what the
-- protocol needs (its id, that it was erased, when it appeared): no district, assignee,
-- sensitivity or routing history (DocRecord::into_tombstone, issue #14). Devices learn
-- of an erasure from the `Erased` log entry under their own scope keys. Reduces the
-- tombstones earlier versions wrote.
UPDATE docs
   SET district = '', assigned_to = '', sensitive = false, history = '[]'
 WHERE erased;
