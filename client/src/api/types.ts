/**
 * The HTTP API's shapes, mirrored by hand from the server:
 * `src/warren/api/schemas.py`, `src/warren/agent/state.py` and the SSE event union in
 * `src/warren/runs/events.py`. Datetimes travel as ISO 8601 strings.
 */

// errors -----------------------------------------------------------------------

export interface ErrorBody {
  error: string;
  detail: string;
  errors?: { loc: (string | number)[]; msg: string; type: string }[];
}

// auth -------------------------------------------------------------------------

export interface Credentials {
  username: string;
  password: string;
}

export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  token_type: "bearer";
  /** seconds until the access token expires */
  expires_in: number;
}

export interface UserPublic {
  id: string;
  username: string;
  created_at: string;
}

export interface RegisterResponse extends TokenResponse {
  user: UserPublic;
}

export interface AuthConfig {
  registration_open: boolean;
}

export interface ApiKeyCreate {
  name: string;
  expires_in_days?: number | null;
}

export interface ApiKeyPublic {
  id: string;
  name: string;
  /** the first characters of the key, to recognise it */
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

export interface ApiKeyCreated extends ApiKeyPublic {
  /** the key itself; shown only in this response */
  secret: string;
}

export interface ApiKeyList {
  data: ApiKeyPublic[];
  count: number;
}

// threads ----------------------------------------------------------------------

export type ThreadStatus = "idle" | "busy" | "interrupted" | "error";

export interface ThreadPublic {
  id: string;
  title: string;
  metadata: Record<string, unknown>;
  status: ThreadStatus;
  created_at: string;
  updated_at: string;
}

export interface ThreadList {
  data: ThreadPublic[];
  /** how many threads match the filters, over all pages */
  count: number;
  next_cursor: string | null;
}

export interface ThreadCreate {
  title?: string | null;
  metadata?: Record<string, unknown>;
}

export interface ThreadUpdate {
  title?: string | null;
  metadata?: Record<string, unknown> | null;
}

export interface ThreadListQuery {
  limit?: number;
  cursor?: string | null;
  q?: string | null;
  status?: ThreadStatus | null;
}

export interface ToolCallInfo {
  id: string;
  name: string;
  args: Record<string, unknown>;
}

/** One message of a conversation, normalised by the server. */
export interface Message {
  id: string;
  role: "user" | "assistant" | "tool";
  content: string;
  tool_calls?: ToolCallInfo[] | null;
  tool_call_id?: string | null;
  name?: string | null;
  /** Tool messages: how the call ended. */
  status?: "success" | "error" | null;
}

export type TodoStatus = "pending" | "in_progress" | "completed";

export interface Todo {
  content: string;
  status: TodoStatus;
}

/**
 * A run paused for a human decision, as `/state` lists it: the review an `interrupt` event
 * carries (empty when the pause is not a tool review), and the raw interrupt `value`.
 */
export interface PendingInterrupt {
  /** the interrupt's id */
  id: string;
  value: unknown;
  /** the agent that paused: `[]` main agent, else the `task` call ids above the subagent */
  ns: string[];
  action_requests: ActionRequest[];
  review_configs: ReviewConfig[];
}

export interface ThreadState {
  thread_id: string;
  messages: Message[];
  todos: Todo[];
  interrupts: PendingInterrupt[];
  status: ThreadStatus;
}

// runs -------------------------------------------------------------------------

export type RunStatus = "pending" | "running" | "success" | "error" | "interrupted" | "cancelled";
export type RunOutcomeStatus = "success" | "error" | "interrupted" | "cancelled";

export interface InputMessage {
  role: "user";
  content: string;
}

/** How a person answers one action a paused run asks about (human in the loop). */
export type DecisionType = "approve" | "edit" | "reject" | "respond";

export type Decision =
  | { type: "approve" }
  | { type: "edit"; edited_action: { name: string; args: Record<string, unknown> } }
  | { type: "reject"; message?: string }
  | { type: "respond"; message: string };

export interface ResumeRequest {
  /** Exactly one decision per pending action request, in order. */
  decisions: Decision[];
}

/** Start a run with new messages, or continue a paused one with `resume` (exactly one of them). */
interface RunOptions {
  model?: string | null;
  /** when the thread already has a run: 409 (`reject`, default), queue it, or replace it */
  multitask_strategy?: "reject" | "enqueue" | "interrupt";
  /** the stream's client hanging up: the run goes on (default) or is cancelled */
  on_disconnect?: "continue" | "cancel";
}

export type RunCreate =
  | (RunOptions & { messages: InputMessage[]; resume?: never })
  | (RunOptions & { resume: ResumeRequest; messages?: never });

export interface RunUsage {
  input_tokens: number;
  output_tokens: number;
}

export interface RunError {
  code: string;
  detail: string;
}

export interface RunPublic {
  run_id: string;
  thread_id: string;
  status: RunStatus;
  model: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  usage: RunUsage;
  error: RunError | null;
}

export interface RunList {
  data: RunPublic[];
  count: number;
}

// files ------------------------------------------------------------------------

export interface FileEntry {
  name: string;
  path: string;
  is_dir: boolean;
  is_symlink: boolean;
  size: number;
  modified_at: string;
}

export interface FileList {
  path: string;
  data: FileEntry[];
  count: number;
  /** the directory has more entries than were listed */
  truncated: boolean;
}

export interface UploadResult {
  paths: string[];
}

// skills -----------------------------------------------------------------------

/** A skill the user installed: a zip with `SKILL.md`, restored into every sandbox of theirs. */
export interface SkillPublic {
  name: string;
  description: string;
  /** where it was fetched from */
  source_url: string;
  /** of the archive, lowercase hex */
  sha256: string;
  /** bytes of the archive */
  size?: number;
  installed_at: string;
}

export interface SkillList {
  data: SkillPublic[];
  count: number;
}

export interface SkillInstall {
  url: string;
  sha256?: string | null;
}

// run events (SSE) ---------------------------------------------------------------

interface EventBase {
  run_id: string;
}

export interface RunStartedEvent extends EventBase {
  type: "run_started";
  thread_id: string;
}

/** A piece of assistant text, in order; concatenate by `message_id`. */
export interface MessageEvent extends EventBase {
  type: "message";
  ns: string[];
  message_id: string;
  content: string;
}

/** Raw partial JSON of a tool call's arguments while the model writes them. */
export interface ToolCallDeltaEvent extends EventBase {
  type: "tool_call_delta";
  ns: string[];
  tool_call_id: string;
  name: string;
  args_delta: string;
}

export interface ToolCallEvent extends EventBase {
  type: "tool_call";
  ns: string[];
  tool_call_id: string;
  name: string;
  args: Record<string, unknown>;
}

export interface ToolResultEvent extends EventBase {
  type: "tool_result";
  ns: string[];
  tool_call_id: string;
  name: string;
  content: string;
  status: "success" | "error";
}

export interface TodosEvent extends EventBase {
  type: "todos";
  todos: Todo[];
}

export interface SubagentStartedEvent extends EventBase {
  type: "subagent_started";
  ns: string[];
  tool_call_id: string;
  subagent_type: string;
  description: string;
}

export interface SubagentFinishedEvent extends EventBase {
  type: "subagent_finished";
  ns: string[];
  tool_call_id: string;
  subagent_type: string;
  status: "success" | "error";
}

/** An action a paused run asks a person about (a gated tool call). */
export interface ActionRequest {
  name: string;
  args: Record<string, unknown>;
  /** what the reviewer is asked to approve */
  description: string;
  tool_call_id: string;
}

/** Which decisions an action (by name) accepts. */
export interface ReviewConfig {
  action_name: string;
  allowed_decisions: DecisionType[];
}

export interface InterruptEvent extends EventBase {
  type: "interrupt";
  interrupt_id: string;
  /** The agent path (`[]` main agent; a subagent's parent `task` call ids). */
  ns: string[];
  action_requests: ActionRequest[];
  review_configs: ReviewConfig[];
}

export type SandboxStatus = "provisioning" | "ready" | "recreated" | "failed";

export interface SandboxEvent extends EventBase {
  type: "sandbox";
  status: SandboxStatus;
  detail: string;
}

export interface UsageEvent extends EventBase {
  type: "usage";
  input_tokens: number;
  output_tokens: number;
}

export interface ErrorEvent extends EventBase {
  type: "error";
  code: string;
  detail: string;
}

export interface DoneEvent extends EventBase {
  type: "done";
  thread_id: string;
  status: RunOutcomeStatus;
}

export type RunEvent =
  | RunStartedEvent
  | MessageEvent
  | ToolCallDeltaEvent
  | ToolCallEvent
  | ToolResultEvent
  | TodosEvent
  | SubagentStartedEvent
  | SubagentFinishedEvent
  | InterruptEvent
  | SandboxEvent
  | UsageEvent
  | ErrorEvent
  | DoneEvent;

export type RunEventType = RunEvent["type"];

export const RUN_EVENT_TYPES: readonly RunEventType[] = [
  "run_started",
  "message",
  "tool_call_delta",
  "tool_call",
  "tool_result",
  "todos",
  "subagent_started",
  "subagent_finished",
  "interrupt",
  "sandbox",
  "usage",
  "error",
  "done",
];
