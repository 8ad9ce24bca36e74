/**
 * The MS-ASWBXML code pages that mail needs (MS-ASWBXML 2.1.2.1): page number, the namespace
 * name libwbxml and Exchange use ("AirSync:" …), and each tag's token. Tokens start at 0x05;
 * gaps are tags of protocol versions we do not speak. Checked token for token against Debian's
 * libwbxml2 (test/activesync/wbxml.test.ts): a wrong entry here fails that test, not a phone.
 */
export interface CodePage {
  number: number;
  /** The namespace (without the trailing colon), also the page's name in element trees. */
  name: string;
  /** Tag names by token. */
  tags: Record<number, string>;
}

/** Tag names listed from token 0x05 on; `null` keeps a token unused. */
function page(number: number, name: string, names: Array<string | null>, from = 0x05): CodePage {
  const tags: Record<number, string> = {};
  names.forEach((n, i) => {
    if (n) tags[from + i] = n;
  });
  return { number, name, tags };
}

export const CODE_PAGES: readonly CodePage[] = [
  page(0, 'AirSync', [
    'Sync', 'Responses', 'Add', 'Change', 'Delete', 'Fetch', 'SyncKey', 'ClientId', 'ServerId', 'Status', 'Collection', 'Class',
    null, 'CollectionId', 'GetChanges', 'MoreAvailable', 'WindowSize', 'Commands', 'Options', 'FilterType', null, null, 'Conflict',
    'Collections', 'ApplicationData', 'DeletesAsMoves', null, 'Supported', 'SoftDelete', 'MIMESupport', 'MIMETruncation', 'Wait',
    'Limit', 'Partial', 'ConversationMode', 'MaxItems', 'HeartbeatInterval',
  ]),
  page(2, 'Email', [
    null, null, null, null, null, null, null, null, null, null,
    'DateReceived', null, 'DisplayTo', 'Importance', 'MessageClass', 'Subject', 'Read', 'To', 'Cc', 'From', 'ReplyTo',
    'AllDayEvent', 'Categories', 'Category', 'DtStamp', 'EndTime', 'InstanceType', 'BusyStatus', 'Location', 'MeetingRequest',
    'Organizer', 'RecurrenceId', 'Reminder', 'ResponseRequested', 'Recurrences', 'Recurrence', 'Recurrence_Type', 'Recurrence_Until',
    'Recurrence_Occurrences', 'Recurrence_Interval', 'Recurrence_DayOfWeek', 'Recurrence_DayOfMonth', 'Recurrence_WeekOfMonth',
    'Recurrence_MonthOfYear', 'StartTime', 'Sensitivity', 'TimeZone', 'GlobalObjId', 'ThreadTopic', null, null, null,
    'InternetCPID', 'Flag', 'FlagStatus', 'ContentClass', 'FlagType', 'CompleteTime', 'DisallowNewTimeProposal',
  ]),
  page(5, 'Move', ['MoveItems', 'Move', 'SrcMsgId', 'SrcFldId', 'DstFldId', 'Response', 'Status', 'DstMsgId']),
  page(6, 'GetItemEstimate', ['GetItemEstimate', 'Version', 'Collections', 'Collection', 'Class', 'CollectionId', 'DateTime', 'Estimate', 'Response', 'Status']),
  page(7, 'FolderHierarchy', [
    'Folders', 'Folder', 'DisplayName', 'ServerId', 'ParentId', 'Type', null, 'Status', null, 'Changes', 'Add', 'Delete', 'Update',
    'SyncKey', 'FolderCreate', 'FolderDelete', 'FolderUpdate', 'FolderSync', 'Count',
  ]),
  page(13, 'Ping', ['Ping', 'AutdState', 'Status', 'HeartbeatInterval', 'Folders', 'Folder', 'Id', 'Class', 'MaxFolders']),
  page(14, 'Provision', [
    'Provision', 'Policies', 'Policy', 'PolicyType', 'PolicyKey', 'Data', 'Status', 'RemoteWipe', 'EASProvisionDoc',
    'DevicePasswordEnabled', 'AlphanumericDevicePasswordRequired', 'RequireStorageCardEncryption', 'PasswordRecoveryEnabled', null,
    'AttachmentsEnabled', 'MinDevicePasswordLength', 'MaxInactivityTimeDeviceLock', 'MaxDevicePasswordFailedAttempts',
    'MaxAttachmentSize', 'AllowSimpleDevicePassword', 'DevicePasswordExpiration', 'DevicePasswordHistory', 'AllowStorageCard',
    'AllowCamera', 'RequireDeviceEncryption', 'AllowUnsignedApplications', 'AllowUnsignedInstallationPackages',
    'MinDevicePasswordComplexCharacters', 'AllowWiFi', 'AllowTextMessaging', 'AllowPOPIMAPEmail', 'AllowBluetooth', 'AllowIrDA',
    'RequireManualSyncWhenRoaming', 'AllowDesktopSync', 'MaxCalendarAgeFilter', 'AllowHTMLEmail', 'MaxEmailAgeFilter',
    'MaxEmailBodyTruncationSize', 'MaxEmailHTMLBodyTruncationSize', 'RequireSignedSMIMEMessages', 'RequireEncryptedSMIMEMessages',
    'RequireSignedSMIMEAlgorithm', 'RequireEncryptionSMIMEAlgorithm', 'AllowSMIMEEncryptionAlgorithmNegotiation',
    'AllowSMIMESoftCerts', 'AllowBrowser', 'AllowConsumerEmail', 'AllowRemoteDesktop', 'AllowInternetSharing',
    'UnapprovedInROMApplicationList', 'ApplicationName', 'ApprovedApplicationList', 'Hash',
  ]),
  page(15, 'Search', [
    'Search', null, 'Store', 'Name', 'Query', 'Options', 'Range', 'Status', 'Response', 'Result', 'Properties', 'Total', 'EqualTo',
    'Value', 'And', 'Or', 'FreeText', null, 'DeepTraversal', 'LongId', 'RebuildResults', 'LessThan', 'GreaterThan', null, null,
    'UserName', 'Password', 'ConversationId', 'Picture', 'MaxSize', 'MaxPictures',
  ]),
  page(17, 'AirSyncBase', [
    'BodyPreference', 'Type', 'TruncationSize', 'AllOrNone', null, 'Body', 'Data', 'EstimatedDataSize', 'Truncated', 'Attachments',
    'Attachment', 'DisplayName', 'FileReference', 'Method', 'ContentId', 'ContentLocation', 'IsInline', 'NativeBodyType',
    'ContentType', 'Preview', 'BodyPartPreference', 'BodyPart', 'Status',
  ]),
  page(18, 'Settings', [
    'Settings', 'Status', 'Get', 'Set', 'Oof', 'OofState', 'StartTime', 'EndTime', 'OofMessage', 'AppliesToInternal',
    'AppliesToExternalKnown', 'AppliesToExternalUnknown', 'Enabled', 'ReplyMessage', 'BodyType', 'DevicePassword', 'Password',
    'DeviceInformation', 'Model', 'IMEI', 'FriendlyName', 'OS', 'OSLanguage', 'PhoneNumber', 'UserInformation', 'EmailAddresses',
    'SmtpAddress', 'UserAgent', 'EnableOutboundSMS', 'MobileOperator', 'PrimarySmtpAddress', 'Accounts', 'Account', 'AccountId',
    'AccountName', 'UserDisplayName', 'SendDisabled', null, 'RightsManagementInformation',
  ]),
  page(20, 'ItemOperations', [
    'ItemOperations', 'Fetch', 'Store', 'Options', 'Range', 'Total', 'Properties', 'Data', 'Status', 'Response', 'Version',
    'Schema', 'Part', 'EmptyFolderContents', 'DeleteSubFolders', 'UserName', 'Password', 'Move', 'DstFldId', 'ConversationId',
    'MoveAlways',
  ]),
  page(21, 'ComposeMail', [
    'SendMail', 'SmartForward', 'SmartReply', 'SaveInSentItems', 'ReplaceMime', null, 'Source', 'FolderId', 'ItemId', 'LongId',
    'InstanceId', 'Mime', 'ClientId', 'Status', 'AccountId',
  ]),
  page(22, 'Email2', [
    'UmCallerID', 'UmUserNotes', 'UmAttDuration', 'UmAttOrder', 'ConversationId', 'ConversationIndex', 'LastVerbExecuted',
    'LastVerbExecutionTime', 'ReceivedAsBcc', 'Sender', 'CalendarType', 'IsLeapMonth', 'AccountId', 'FirstDayOfWeek',
    'MeetingMessageType',
  ]),
];

/** Lookups built once: page by number, page by name, token by page and tag. */
export const PAGE_BY_NUMBER = new Map(CODE_PAGES.map((p) => [p.number, p]));
export const PAGE_BY_NAME = new Map(CODE_PAGES.map((p) => [p.name, p]));
export const TOKEN_BY_TAG = new Map(
  CODE_PAGES.map((p) => [p.name, new Map(Object.entries(p.tags).map(([token, tag]) => [tag, Number(token)]))]),
);
