/** Disk content xops puts on VDIs: NoCloud config drives (files and image). See docs/disk-content.md. */
export { CONFIG_DRIVE_LABEL, ConfigDriveError, MAX_CONFIG_FILE_BYTES, configDriveFiles } from './config-drive.js';
export type { CloudInitSpec, ConfigDriveFiles } from './config-drive.js';
export { ConfigDriveBuildError, MAX_CONFIG_DRIVE_BYTES, buildConfigDrive } from './build-config-drive.js';
export type { BuildOptions, BuiltDrive } from './build-config-drive.js';
