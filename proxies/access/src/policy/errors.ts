import { defineError } from '@affidavit/common';

/** PolicyInvalidError: a policy file failed to parse, validate or compile; the message names each problem. */
export const PolicyInvalidError = defineError('AFF_E_POLICY_INVALID', 'policy file is invalid');

/** SqlParserNotReadyError: SQL was classified before `initSqlParser()` finished loading the WebAssembly parser. */
export const SqlParserNotReadyError = defineError('AFF_E_POLICY_PARSER_NOT_READY', 'the SQL parser is not loaded; await initSqlParser() first');
