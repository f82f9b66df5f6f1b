-- CreateTable
CREATE TABLE "ingest_log" (
    "job_uid" UUID NOT NULL,
    "camera" VARCHAR(63) NOT NULL,
    "session" VARCHAR(64) NOT NULL,
    "seq" BIGINT NOT NULL,
    "payload" BYTEA NOT NULL,
    "observations" INTEGER NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "applied" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "ingest_log_pkey" PRIMARY KEY ("job_uid","camera","session","seq")
);

-- CreateTable
CREATE TABLE "ingest_streams" (
    "job_uid" UUID NOT NULL,
    "camera" VARCHAR(63) NOT NULL,
    "session" VARCHAR(64) NOT NULL,
    "pruned_through" BIGINT NOT NULL,

    CONSTRAINT "ingest_streams_pkey" PRIMARY KEY ("job_uid","camera","session")
);

-- CreateIndex
CREATE INDEX "ingest_log_applied_received_at_idx" ON "ingest_log"("applied", "received_at");

