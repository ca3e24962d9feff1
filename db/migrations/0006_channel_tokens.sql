CREATE TABLE "channel_tokens" (
	"channel_id" text PRIMARY KEY NOT NULL,
	"token_enc" text,
	"app_id" text,
	"expires_at" timestamp with time zone,
	"refreshing_until" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "channel_tokens" ADD CONSTRAINT "channel_tokens_channel_id_channels_id_fk" FOREIGN KEY ("channel_id") REFERENCES "public"."channels"("id") ON DELETE no action ON UPDATE no action;