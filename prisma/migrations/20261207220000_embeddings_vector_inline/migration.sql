-- Keep a representative embedding's vector in its row (a 512-d real[] is 2,068 bytes, just over the
-- 2,032-byte TOAST threshold, so with the default EXTENDED storage every write tried compressing it and
-- then moved it to the TOAST table; rewriting representatives is most of the history writer's database
-- work). MAIN still compresses or moves a value out of line when the row would not fit a page. Existing
-- rows stay as they are and read the same; only new writes are stored inline.
ALTER TABLE "embeddings" ALTER COLUMN "vector" SET STORAGE MAIN;
