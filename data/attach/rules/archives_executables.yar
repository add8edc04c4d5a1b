/*
 * mimamori attach: executables, scripts and disguised names. These rules
 * use the external variables the plugin defines for every object:
 * filename (the name inside its container), container_path (the chain
 * a.zip>b.docm>word/vbaProject.bin), mime and mail_subject.
 */

rule mm_executable_in_archive
{
	meta:
		description = "Windows program inside an archive attached to a mail"
		author = "mimamori"
	condition:
		uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and
		container_path contains ">"
}

rule mm_script_in_archive
{
	meta:
		description = "Script or shortcut file inside an archive attached to a mail"
		author = "mimamori"
	condition:
		container_path contains ">" and
		filename matches /\.(js|jse|vbs|vbe|wsf|wsh|hta|ps1|bat|cmd|lnk|scr|pif|com|cpl|jar|msi|iso|img|one)$/is
}

rule mm_double_extension
{
	meta:
		description = "File name with a harmless-looking extension before an executable one, such as 請求書.pdf.exe"
		author = "mimamori"
	condition:
		filename matches /\.(pdf|docx?|xlsx?|pptx?|rtf|txt|jpe?g|png|gif|zip|csv|html?)[ \t_.]*\.(exe|scr|com|pif|bat|cmd|js|jse|vbs|vbe|wsf|hta|lnk|ps1|msi|cpl|jar)$/is
}

rule mm_executable_attachment
{
	meta:
		description = "Windows program attached to a mail"
		author = "mimamori"
	condition:
		uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and
		not (container_path contains ">")
}

rule mm_eicar_test_file
{
	meta:
		description = "EICAR anti-virus test file"
		author = "mimamori"
	strings:
		$eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
	condition:
		$eicar at 0
}
