//! The error type of the crate.

/// The problems found while parsing account data, or while hashing and generating secrets.
///
/// The `Display` text of each variant is a short Chinese message meant for the back-office user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// The role is not one of `admin`, `reviewer`, `finance`, `checkin`.
    #[error("未知的角色「{0}」")]
    RoleInvalid(String),
    /// The role list is empty (or only whitespace).
    #[error("请至少选择一个角色")]
    RolesEmpty,
    /// The comma-separated role list has an empty entry (e.g. `admin,,finance` or `admin,`).
    #[error("角色列表中有空项")]
    RolesEmptyEntry,
    /// The username is empty (or only whitespace).
    #[error("请填写用户名")]
    UsernameEmpty,
    /// The username has fewer than [`crate::Username::MIN_CHARS`] or more than
    /// [`crate::Username::MAX_CHARS`] characters.
    #[error("用户名长度应为3至32个字符")]
    UsernameLength,
    /// The username contains a character other than `a-z`, `0-9`, `_`, `.` and `-`.
    #[error("用户名只能包含字母、数字、下划线、点和连字符，不能包含「{0}」")]
    UsernameInvalidChar(char),
    /// The username does not start with a letter.
    #[error("用户名必须以字母开头")]
    UsernameStart,
    /// The display name is empty (or only whitespace).
    #[error("请填写显示名称")]
    DisplayNameEmpty,
    /// The display name has more than [`crate::DisplayName::MAX_CHARS`] characters.
    #[error("显示名称不能超过50个字")]
    DisplayNameTooLong,
    /// The display name contains a control or invisible character.
    #[error("显示名称中不能包含控制字符或不可见字符")]
    DisplayNameControlChar,
    /// The password has fewer than [`crate::Password::MIN_CHARS`] characters.
    #[error("密码至少需要10个字符")]
    PasswordTooShort,
    /// The password has more than [`crate::Password::MAX_CHARS`] characters.
    #[error("密码不能超过128个字符")]
    PasswordTooLong,
    /// The password repeats a single character (`aaaaaaaaaa`).
    #[error("密码不能由同一个字符重复组成")]
    PasswordRepeated,
    /// The password equals the username (ignoring ASCII case).
    #[error("密码不能与用户名相同")]
    PasswordIsUsername,
    /// Argon2 refused to hash the password (should not happen with the default parameters).
    #[error("密码加密失败：{0}")]
    Hashing(String),
    /// The operating system's random number generator failed.
    #[error("无法获取系统随机数")]
    Randomness,
}
