// The API's GraphQL schema. Times are ISO 8601 UTC strings (microseconds kept); lists are
// Relay-style connections continued by opaque keyset cursors.
export const typeDefs = /* GraphQL */ `
  "Where an event sits in the ledger."
  type Position {
    log: String!
    index: Int!
  }

  "An RFC 9162 inclusion proof against a C2SP signed checkpoint; hashes are base64."
  type InclusionProof {
    index: Int!
    treeSize: Int!
    checkpoint: String!
    hashes: [String!]!
  }

  "A proof of the row's event, or why there is none yet (past the latest checkpoint)."
  type Evidence {
    position: Position!
    proof: InclusionProof
    reason: String
  }

  type ConsistencyProof {
    log: String!
    from: Int!
    to: Int!
    fromCheckpoint: String!
    toCheckpoint: String!
    hashes: [String!]!
  }

  type Checkpoint {
    treeSize: Int!
    note: String!
  }

  type PageInfo {
    hasNextPage: Boolean!
    endCursor: String
  }

  type Session {
    sessionId: ID!
    issuer: String
    subject: String
    email: String
    mfa: Boolean
    sourceAddress: String!
    sourcePort: Int
    application: String
    targetKind: String!
    targetResource: String!
    targetHost: String!
    targetDatabase: String
    targetLogin: String
    protocol: String!
    tls: Boolean!
    startedAt: String!
    endedAt: String
    endReason: String
    endErrorCode: String
    commandCount: Int
    position: Position!
    proof: Evidence!
  }
  type SessionConnection {
    nodes: [Session!]!
    pageInfo: PageInfo!
  }

  type Command {
    sessionId: ID!
    commandId: ID!
    seq: Int!
    subject: String
    channel: String!
    text: String!
    classes: [String!]!
    decision: String!
    ruleId: String
    issuedAt: String!
    outcome: String
    tag: String
    rows: Int
    durationMicros: Float
    errorCode: String
    position: Position!
    proof: Evidence!
  }
  type CommandConnection {
    nodes: [Command!]!
    pageInfo: PageInfo!
  }

  type BlockedCommand {
    eventId: ID!
    sessionId: ID!
    commandId: ID!
    subject: String
    targetResource: String!
    text: String!
    ruleId: String
    reason: String!
    occurredAt: String!
    position: Position!
    proof: Evidence!
  }
  type BlockedCommandConnection {
    nodes: [BlockedCommand!]!
    pageInfo: PageInfo!
  }

  enum ApprovalStatus {
    pending
    approved
    denied
    expired
  }

  type Approval {
    requestId: ID!
    sessionId: ID!
    commandId: ID!
    requester: String
    text: String!
    ruleId: String!
    reason: String!
    approverGroups: [String!]!
    requestedAt: String!
    expiresAt: String!
    status: ApprovalStatus!
    approver: String
    justification: String
    decidedAt: String
    "Whether the decision's signature verifies; null when pending or when this API has no verifier."
    signatureValid: Boolean
    position: Position!
    decisionPosition: Position
    "Every decision recorded for the request, in ledger order: the first sets status; later ones are replays or forgeries."
    decisions: [ApprovalDecision!]!
    "Decision attempts the gate or the decision service refused (self-approval, wrong group, expired, forged, replayed)."
    refusals: [ApprovalRefusal!]!
    proof: Evidence!
  }

  type ApprovalRefusal {
    eventId: ID!
    "eventId of the refused ApprovalDecided, when it reached the ledger"
    refusedEventId: ID
    attemptedDecision: String!
    "the approver the attempt named (unverified unless actor is set)"
    claimedApprover: String
    actor: String
    code: String!
    reason: String!
    refusedBy: String!
    occurredAt: String!
    position: Position!
    proof: Evidence!
  }

  type ApprovalDecision {
    eventId: ID!
    "true once an ApprovalRefused names this decision: it did not release the statement"
    refused: Boolean!
    decision: ApprovalStatus!
    approver: String
    justification: String!
    decidedAt: String!
    signatureValid: Boolean
    position: Position!
    proof: Evidence!
  }
  type ApprovalConnection {
    nodes: [Approval!]!
    pageInfo: PageInfo!
  }

  type MaskedData {
    eventId: ID!
    sessionId: ID!
    commandId: ID!
    subject: String
    count: Int!
    truncated: Boolean!
    columns: [String!]!
    rules: [String!]!
    occurredAt: String!
    position: Position!
    proof: Evidence!
  }
  type MaskedDataConnection {
    nodes: [MaskedData!]!
    pageInfo: PageInfo!
  }

  type IdentitySeen {
    issuer: String!
    subject: String!
    email: String
    groups: [String!]!
    mfa: Boolean!
    firstSeen: String!
    lastSeen: String!
    sessions: Int!
  }
  type IdentityConnection {
    nodes: [IdentitySeen!]!
    pageInfo: PageInfo!
  }

  "A refused authentication; claimed values are what the token claimed, unverified."
  type AuthenticationFailure {
    eventId: ID!
    sessionId: ID!
    code: String!
    reason: String!
    claimedIssuer: String
    claimedSubject: String
    tokenId: String
    sourceAddress: String!
    targetResource: String!
    occurredAt: String!
    position: Position!
    proof: Evidence!
  }
  type AuthenticationFailureConnection {
    nodes: [AuthenticationFailure!]!
    pageInfo: PageInfo!
  }

  input SessionFilter {
    subject: String
    targetResource: String
    sourceAddress: String
    active: Boolean
    "ISO 8601, inclusive"
    since: String
    "ISO 8601, exclusive"
    until: String
  }
  input BlockedFilter {
    subject: String
    sessionId: ID
    ruleId: String
  }
  input ApprovalFilter {
    status: ApprovalStatus
    requester: String
  }
  input MaskedFilter {
    subject: String
    sessionId: ID
  }
  input AuthFailureFilter {
    code: String
    claimedSubject: String
  }

  type Me {
    issuer: String!
    subject: String!
    roles: [String!]!
  }

  type Query {
    me: Me!
    sessions(filter: SessionFilter, first: Int = 50, after: String): SessionConnection!
    session(sessionId: ID!): Session
    commands(sessionId: ID!, first: Int = 50, after: String): CommandConnection!
    blockedCommands(filter: BlockedFilter, first: Int = 50, after: String): BlockedCommandConnection!
    approvals(filter: ApprovalFilter, first: Int = 50, after: String): ApprovalConnection!
    approval(requestId: ID!): Approval
    maskedData(filter: MaskedFilter, first: Int = 50, after: String): MaskedDataConnection!
    identities(first: Int = 50, after: String): IdentityConnection!
    authenticationFailures(filter: AuthFailureFilter, first: Int = 50, after: String): AuthenticationFailureConnection!
    checkpoints(log: String!): [Checkpoint!]!
    consistencyProof(log: String!, from: Int!, to: Int!): ConsistencyProof!
    "An SP 800-53 control report over [from, to) from the ledger: AC-2, AC-6(9), AU-2/AU-3, AU-9/AU-10, AU-12, IA-2. Every row cites ledger entries with inclusion proofs."
    report(control: String!, from: String!, to: String!): Report!
  }

  type ReportObjective {
    "SP 800-53A objective id, e.g. au-3_obj.c"
    id: String!
    title: String!
    "satisfied or not-satisfied"
    state: String!
    reason: String!
    "Ids of the report rows it rests on."
    rows: [String!]!
  }

  type Report {
    control: String!
    title: String!
    from: String!
    to: String!
    rows: Int!
    objectives: [ReportObjective!]!
    gaps: [String!]!
    "The whole report as JSON (rows, cited entries, proofs); check it with: affidavit verify report FILE --key ledger.pub --allow-unattested"
    json: String!
    "The report as OSCAL 1.2.1 assessment-results JSON."
    oscal: String!
  }

  type Decision {
    requestId: ID!
    decision: ApprovalStatus!
    decidedAt: String!
  }

  "The clear original of one masked value; its opening is in the ledger as event recordedAs."
  type RevealedValue {
    value: String!
    column: String!
    row: Int!
    recordedAs: ID!
  }

  type Mutation {
    approve(id: ID!, justification: String!): Decision!
    deny(id: ID!, justification: String!): Decision!
    "Opens value index of a DataMasked event (auditor, approver or admin); recorded as MaskedValueOpened before it is returned."
    revealMaskedValue(eventId: ID!, index: Int!, reason: String!): RevealedValue!
  }

  type Subscription {
    "Pending approvals: each current one at once, then every request that becomes pending or leaves pending."
    pendingApprovals: Approval!
    "Sessions as they start and end."
    liveSessions: Session!
  }
`;
