CREATE TABLE "surveys" (
	"id" text PRIMARY KEY NOT NULL,
	"token" text NOT NULL,
	"close_key" text NOT NULL,
	"workspace_id" text NOT NULL,
	"conversation_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"score" integer,
	"comment" text,
	"answered_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "surveys" ADD CONSTRAINT "surveys_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "surveys" ADD CONSTRAINT "surveys_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "surveys" ADD CONSTRAINT "surveys_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "surveys_token_uq" ON "surveys" USING btree ("token");--> statement-breakpoint
CREATE UNIQUE INDEX "surveys_close_uq" ON "surveys" USING btree ("close_key");--> statement-breakpoint
CREATE INDEX "surveys_conversation_idx" ON "surveys" USING btree ("conversation_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "surveys_answered_idx" ON "surveys" USING btree ("workspace_id","answered_at" DESC NULLS LAST) WHERE "surveys"."answered_at" is not null;