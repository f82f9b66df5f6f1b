-- CreateTable
CREATE TABLE "session_revocations" (
    "sid" VARCHAR(64) NOT NULL,
    "expires_at" BIGINT NOT NULL,

    CONSTRAINT "session_revocations_pkey" PRIMARY KEY ("sid")
);

-- CreateIndex
CREATE INDEX "session_revocations_expires_at_idx" ON "session_revocations"("expires_at");
