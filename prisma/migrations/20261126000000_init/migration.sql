-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "jobs" (
    "uid" UUID NOT NULL,
    "namespace" VARCHAR(63) NOT NULL,
    "name" VARCHAR(63) NOT NULL,
    "resource_version" BIGINT NOT NULL,
    "generation" INTEGER NOT NULL DEFAULT 1,
    "spec" JSONB NOT NULL,
    "status" JSONB,
    "labels" JSONB,
    "annotations" JSONB,
    "finalizers" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "creation_timestamp" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deletion_timestamp" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "jobs_pkey" PRIMARY KEY ("uid")
);

-- CreateTable
CREATE TABLE "job_events" (
    "rv" BIGSERIAL NOT NULL,
    "type" VARCHAR(8) NOT NULL,
    "namespace" VARCHAR(63) NOT NULL,
    "name" VARCHAR(63) NOT NULL,
    "uid" UUID NOT NULL,
    "object" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "job_events_pkey" PRIMARY KEY ("rv")
);

-- CreateTable
CREATE TABLE "tracks" (
    "id" BIGSERIAL NOT NULL,
    "job_uid" UUID NOT NULL,
    "job_key" VARCHAR(127) NOT NULL,
    "camera" VARCHAR(63) NOT NULL,
    "local_id" INTEGER NOT NULL,
    "global_id" VARCHAR(128),
    "start_ms" BIGINT NOT NULL,
    "end_ms" BIGINT NOT NULL,

    CONSTRAINT "tracks_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "track_segments" (
    "id" BIGSERIAL NOT NULL,
    "track_id" BIGINT NOT NULL,
    "start_ms" BIGINT NOT NULL,
    "end_ms" BIGINT NOT NULL,
    "points" JSONB NOT NULL,

    CONSTRAINT "track_segments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "embeddings" (
    "id" BIGSERIAL NOT NULL,
    "track_id" BIGINT NOT NULL,
    "t_ms" BIGINT NOT NULL,
    "model" VARCHAR(128) NOT NULL,
    "dim" INTEGER NOT NULL,
    "vector" REAL[],

    CONSTRAINT "embeddings_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "jobs_namespace_name_key" ON "jobs"("namespace", "name");

-- CreateIndex
CREATE INDEX "job_events_created_at_idx" ON "job_events"("created_at");

-- CreateIndex
CREATE INDEX "tracks_job_uid_global_id_idx" ON "tracks"("job_uid", "global_id");

-- CreateIndex
CREATE INDEX "tracks_job_key_start_ms_idx" ON "tracks"("job_key", "start_ms");

-- CreateIndex
CREATE UNIQUE INDEX "tracks_job_uid_camera_local_id_key" ON "tracks"("job_uid", "camera", "local_id");

-- CreateIndex
CREATE INDEX "track_segments_track_id_start_ms_idx" ON "track_segments"("track_id", "start_ms");

-- CreateIndex
CREATE INDEX "embeddings_track_id_idx" ON "embeddings"("track_id");

-- AddForeignKey
ALTER TABLE "track_segments" ADD CONSTRAINT "track_segments_track_id_fkey" FOREIGN KEY ("track_id") REFERENCES "tracks"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "embeddings" ADD CONSTRAINT "embeddings_track_id_fkey" FOREIGN KEY ("track_id") REFERENCES "tracks"("id") ON DELETE CASCADE ON UPDATE CASCADE;

