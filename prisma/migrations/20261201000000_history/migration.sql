-- DropIndex
DROP INDEX "tracks_job_uid_camera_local_id_key";

-- AlterTable
ALTER TABLE "tracks" ADD COLUMN     "frame_height" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "frame_width" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "keep_days" INTEGER NOT NULL DEFAULT 30,
ADD COLUMN     "seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
ADD COLUMN     "session" VARCHAR(64) NOT NULL DEFAULT '';

-- CreateTable
CREATE TABLE "thumbnails" (
    "id" BIGSERIAL NOT NULL,
    "track_id" BIGINT NOT NULL,
    "t_ms" BIGINT NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "jpeg" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "keep_days" INTEGER NOT NULL DEFAULT 7,

    CONSTRAINT "thumbnails_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "thumbnails_track_id_idx" ON "thumbnails"("track_id");

-- CreateIndex
CREATE INDEX "thumbnails_created_at_idx" ON "thumbnails"("created_at");

-- CreateIndex
CREATE INDEX "tracks_seen_at_idx" ON "tracks"("seen_at");

-- CreateIndex
CREATE UNIQUE INDEX "tracks_job_uid_camera_session_local_id_key" ON "tracks"("job_uid", "camera", "session", "local_id");

-- AddForeignKey
ALTER TABLE "thumbnails" ADD CONSTRAINT "thumbnails_track_id_fkey" FOREIGN KEY ("track_id") REFERENCES "tracks"("id") ON DELETE CASCADE ON UPDATE CASCADE;

