-- AlterTable
ALTER TABLE "User" ADD COLUMN "displayName" TEXT;

-- AlterTable
ALTER TABLE "User" DROP COLUMN "nickname";
